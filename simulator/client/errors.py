"""The client's error a user's mistake raises, in a module of its own so that the command line can
name it without importing aiobotocore (a quarter of a second at every start of `serve` or `validate`)."""


class TargetError(ValueError):
    """A target that cannot be used (missing endpoint, unknown kind)."""
