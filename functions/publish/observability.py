"""Logger, Tracer and Metrics of the publish function, created once.

The service name and the metrics namespace are core's (``onthedot.core.metrics``), the names the dashboard and
alarms read, so they hold however the module is first imported. The log level comes from
``POWERTOOLS_LOG_LEVEL`` (``onthedot.deploy.settings.publish_environment``), read when this module is imported;
Powertools reads its switches (``POWERTOOLS_TRACE_DISABLED``, ``POWERTOOLS_METRICS_DISABLED``) on every call.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from onthedot.core.metrics import NAMESPACE, SERVICE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
