"""``onthedot ui``: a small web console over one jobs table: upcoming jobs, series, runs and their lateness,
the backlog and the dead letter, refreshed live, with cancel, reschedule and redrive behind a confirmation.

Server-rendered pages (Starlette, Jinja2 with autoescaping, served by uvicorn) and one small script that
refreshes each page's live part; no build step and nothing fetched at run time. It needs the ``ui`` extra.

- ``options``: the ``ui`` command's options (light: no web imports, the CLI's parser imports it);
- ``command``: ``onthedot ui`` run in the foreground; ``beside``: the console started beside ``onthedot local``;
- ``app``: the routes; ``guard``: what keeps writes same-origin; ``actions``: the writes, through the client API;
- ``reads``: what the pages show, read through the client API and the CLI's status; ``lateness``: its figures;
- ``text``: user data made inert and short; ``charts``: the SVG figures; ``server``: sockets and uvicorn.
"""
