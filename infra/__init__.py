"""CDK constructs for onthedot, one per concern; ``OnTheDotStack`` composes them."""

from infra.stack import OnTheDotStack, read_settings

__all__ = ["OnTheDotStack", "read_settings"]
