"""A module of the user's that imports callables of the standard library by name: a handler naming
them (`borrowed.system`) names code that is not the function's own."""

from os import system  # noqa: F401
from shutil import rmtree  # noqa: F401
from subprocess import run  # noqa: F401
