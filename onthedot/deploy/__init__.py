"""A deployment: its knobs (``settings``, read from ``cdk.json`` context by the stack and the local cloud) and how
the CLI and the console find one to talk to (``target``: the local cloud or a deployed stack)."""
