"""The record's error a user's mistake raises (a folder that is not a run's), in a module of its own
so that the command line can name it without importing numpy."""


class RecordError(ValueError):
    """A run folder whose record cannot be read; the message says which and why."""
