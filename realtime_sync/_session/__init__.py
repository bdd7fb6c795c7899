"""The parts of one Realtime session that :class:`realtime_sync.client.RealtimeClient` holds.

Each module is one small object that owns its state and its lock; the client
creates them, wires them together with plain callables and delegates to them.
Nothing here imports the client, and none of it is public API.

* :mod:`.sent` -- the record of recently sent client events, to name the
  cause of a server ``error``.
* :mod:`.requests` -- request handles (:class:`~.requests.Ask`), response
  tickets and the :class:`~.requests.ResponseQueue` that keeps one response
  active at a time.
* :mod:`.input_audio` -- pending manual-turn audio and the server-VAD window.
* :mod:`.tools` -- the registered tools, their worker thread and the
  per-response batches that decide the follow-up ``response.create``.
* :mod:`.settings` -- the session configuration (flat and GA spellings) and its validation.
* :mod:`.effective` -- what the server says the session is, and the updates on their way.
* :mod:`.control` -- ``update_session`` / ``connect``'s ``session.update`` and the turn mode in force.
* :mod:`.images` -- ``input_image`` parts from bytes, a path or a data URL.
* :mod:`.inbound` -- the route of every server event into the conversation
  and the parts above, and the client-level events it dispatches.
* :mod:`.outlet` -- where client-level events go: listeners and the ``events()`` queue.
* :mod:`.outbound` -- every client event the client sends (``event_id``, record, ``realtime.event``).
* :mod:`.appender` -- ``append_input_audio``'s own route to the wire (a JSON template, a reused frame buffer).
* :mod:`.reconnect` -- the reconnect policy and the worker that follows it.
* :mod:`.lifecycle` -- connect, disconnect and the end of each connection
  (its tag, ``session.created``, the one ``close``); it holds the reconnector.
"""

from __future__ import annotations

from typing import List

__all__: List[str] = []
