"""The client: schedule, inspect, cancel and redrive jobs from Python (``Scheduler``).

from onthedot.client import Scheduler
"""

from onthedot.client.scheduler import Scheduler
from onthedot.core.errors import BucketWidthMismatch, InvalidJob, JobNotFound, ScheduleIncomplete
from onthedot.core.models import DeadLetter, DeadLetterPage, Job, JobRequest, Page, Series

__all__ = [
    "BucketWidthMismatch",
    "DeadLetter",
    "DeadLetterPage",
    "InvalidJob",
    "Job",
    "JobNotFound",
    "JobRequest",
    "Page",
    "ScheduleIncomplete",
    "Scheduler",
    "Series",
]
