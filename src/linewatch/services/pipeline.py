"""Transitional: the use cases moved to the modules of :mod:`linewatch.services`."""

from linewatch.services import *  # noqa: F403
from linewatch.services import __all__  # noqa: F401
