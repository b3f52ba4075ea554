"""CDK constructs for onthedot, one per concern; ``OnTheDot`` composes them, ``OnTheDotStack`` deploys it."""

from infra.construct import OnTheDot
from infra.stack import OnTheDotStack, read_settings

__all__ = ["OnTheDot", "OnTheDotStack", "read_settings"]
