"""The embedded local cloud: moto on loopback, patched to run the dispatcher definition as AWS does."""
