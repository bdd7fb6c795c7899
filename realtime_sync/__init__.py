"""realtime_sync: a synchronous, thread-based client for the OpenAI Realtime API.

The public names::

    from realtime_sync import RealtimeClient, RealtimeAPI, Conversation, EventHandler, RealtimeError

Optional parts are imported on their own: ``realtime_sync.simulator`` (needs the
``server`` extra) and ``realtime_sync.devices`` (needs the ``audio`` extra).
"""

from __future__ import annotations

from ._version import __version__
from .errors import RealtimeError

# Integration note: modules are imported lazily while the parts are being built;
# this becomes plain imports once every module exists.
_LAZY = {
    "EventHandler": ".events",
    "RealtimeAPI": ".api",
    "Conversation": ".conversation",
    "RealtimeClient": ".client",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "RealtimeClient",
    "RealtimeAPI",
    "Conversation",
    "EventHandler",
    "RealtimeError",
    "__version__",
]
