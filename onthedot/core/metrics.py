"""The names of onthedot's CloudWatch metrics, defined once for the functions that emit them and the
dashboard and alarms that read them (``infra/monitoring.py``).

Lambda-safe: no imports beyond the standard library.
"""

from __future__ import annotations

NAMESPACE = "onthedot"
# The publish function's metrics (Powertools EMF) carry this one dimension: its POWERTOOLS_SERVICE_NAME.
SERVICE = "onthedot"
SERVICE_DIMENSION = "service"

# Put by the dispatcher's Report backlog state (no dimensions): the age of the oldest bucket still to drain
# when a run started, 0 once caught up.
OLDEST_BUCKET_AGE_SECONDS = "OldestBucketAgeSeconds"

# Emitted by the publish function, per page.
PUBLISHED = "Published"  # events EventBridge accepted
FAILED = "Failed"  # entries EventBridge rejected: retried by the next run
MISSING = "Missing"  # keys whose item was gone when the page was read (deleted meanwhile)
DEAD_LETTERED = "DeadLettered"  # jobs moved to the dead letter
DEAD_LETTER_SIZE = "DeadLetterSize"  # items in the dead-letter table
LATENESS_SECONDS = "LatenessSeconds"  # one value per published job: publish time minus due time

PUBLISH_METRICS = (PUBLISHED, FAILED, MISSING, DEAD_LETTERED, DEAD_LETTER_SIZE, LATENESS_SECONDS)
