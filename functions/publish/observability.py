"""Logger, Tracer and Metrics of the publish function, created once.

Service name, log level and metrics namespace come from the ``POWERTOOLS_*`` environment variables that
``onthedot.deploy.settings.publish_environment`` sets; they are read when this module is first imported.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
