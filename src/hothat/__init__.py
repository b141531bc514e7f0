"""hothat: escalation routines for threats, hate and violence against elected officials."""

from hothat.errors import HothatError
from hothat.plugins import hookimpl

__all__ = ["HothatError", "hookimpl"]
__version__ = "0.1.0"
