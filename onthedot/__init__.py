"""onthedot: a serverless scheduler for AWS."""

__version__ = "0.1.0"
