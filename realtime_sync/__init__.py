"""realtime_sync: a synchronous, thread-based client for the OpenAI Realtime API.

The public names::

    from realtime_sync import RealtimeClient, RealtimeAPI, Conversation, EventHandler, RealtimeError

Optional parts are imported on their own: ``realtime_sync.simulator`` (needs the
``server`` extra) and ``realtime_sync.devices`` (needs the ``audio`` extra).

Each name is imported when it is first asked for (PEP 562), so that
``import realtime_sync`` stays cheap: numpy is imported when audio is first
touched and websocket-client (with ssl) when a connection is first made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from ._version import __version__

if TYPE_CHECKING:
    from ._transport.loop import ReceiveLoop
    from .api import RealtimeAPI
    from .client import RealtimeClient
    from .conversation import Conversation
    from .errors import RealtimeError
    from .events import EventHandler

__all__ = [
    "RealtimeClient",
    "RealtimeAPI",
    "Conversation",
    "EventHandler",
    "RealtimeError",
    "ReceiveLoop",
    "__version__",
]

#: Each lazily exported name and the module that defines it.
_EXPORTS: Dict[str, str] = {
    "RealtimeClient": ".client",
    "RealtimeAPI": ".api",
    "Conversation": ".conversation",
    "EventHandler": ".events",
    "RealtimeError": ".errors",
    "ReceiveLoop": "._transport.loop",
}


#: The public modules ``import realtime_sync`` used to import as a side effect:
#: ``realtime_sync.errors.ToolError`` after a bare ``import realtime_sync`` still works.
_SUBMODULES = frozenset(
    ("api", "audio", "client", "conversation", "dialects", "errors", "events", "history", "recording", "types")
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module("." + name, __name__)  # the import binds it here too
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
