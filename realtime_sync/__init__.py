"""realtime_sync: a synchronous, thread-based client for the OpenAI Realtime API.

The public names::

    from realtime_sync import RealtimeClient, RealtimeAPI, Conversation, EventHandler, RealtimeError

Optional parts are imported on their own: ``realtime_sync.simulator`` (needs the
``server`` extra) and ``realtime_sync.devices`` (needs the ``audio`` extra).
"""

from __future__ import annotations

from ._version import __version__
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
    "__version__",
]
