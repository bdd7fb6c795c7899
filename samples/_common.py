"""Helper shared by the samples: talk to OpenAI if you have a key, else to the simulator.

Every sample starts with::

    with server_options() as options:
        with RealtimeClient(**options) as client:
            ...

``server_options()`` yields the keyword arguments for ``RealtimeClient``:

- ``REALTIME_SYNC_URL`` set: connect to that server (a Realtime server speaking
  GA, for example ``python -m realtime_sync simulate`` in another terminal;
  ``REALTIME_SYNC_PROTOCOL=beta`` for one of the original beta protocol);
- ``OPENAI_API_KEY`` set: nothing to add, the client talks to OpenAI with it;
- otherwise: start the built-in simulator on 127.0.0.1 for the duration of
  the block, and say so on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Dict, Iterator

__all__ = ["server_options"]


@contextlib.contextmanager
def server_options(*, realtime: bool = False) -> Iterator[Dict[str, Any]]:
    """Yield ``RealtimeClient`` keyword arguments for the server to use (see the module docstring).

    Args:
        realtime: pace the simulator's replies like a live model (for demos).
    """
    url = os.environ.get("REALTIME_SYNC_URL")
    if url:
        protocol = os.environ.get("REALTIME_SYNC_PROTOCOL")
        yield {"url": url, "protocol": protocol} if protocol else {"url": url}
        return
    if os.environ.get("OPENAI_API_KEY"):
        yield {}
        return
    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator(realtime=realtime) as simulator:
        print("(no OPENAI_API_KEY: using the built-in simulator at %s)" % simulator.url, file=sys.stderr)
        yield {"url": simulator.url}
