"""The client's error a user's mistake raises, in a module of its own so that the command line can
name it without importing aiobotocore, which `serve` and `validate` never use."""


class TargetError(ValueError):
    """A target that cannot be used (missing endpoint, unknown kind)."""
