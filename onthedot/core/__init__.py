"""The core: what the Lambda functions run and the client shares with them.

Key math and names (``keys``, ``jobs``), every item shape written on both sides (``items``, ``models``), events,
recurrence, errors, the lateness histogram, metric names and the dispatcher's planning (``plan``). It imports
nothing from the client, the CLI, the deployment settings or the local cloud (``tests/unit/test_boundaries.py``),
so the functions' assets ship this package whole.
"""
