"""The private socket layer under :mod:`realtime_sync.api`.

Modules, each importing only the ones listed before it:

* :mod:`.secrets`: credentials that never print themselves, masking of text,
  URLs and server ``error`` events.
* :mod:`.urls`: endpoint rules (OpenAI, Azure, loopback), the URL a
  connection opens and the handshake headers.
* :mod:`.tls`: reading a TLS socket a whole record at a time (the kernel's
  bytes peeked at; a record still arriving waited for with the socket's
  low-water mark on Linux).
* :mod:`.frames`: a buffered reader of server WebSocket frames (sizes
  checked from the header) and the writer of masked client frames.
* :mod:`.proxy`: the explicit ``proxy=`` option and the environment's proxy.
* :mod:`.encoding`: client events to JSON bytes (a fast path for audio
  appends, the same bytes as ``json.dumps``).
* :mod:`.writer`: :class:`~.writer.FrameWriter`, masked text frames in one
  reused buffer (the client's audio appends).
* :mod:`.failures`: why a connection attempt failed or ended, as a key-free
  :class:`~realtime_sync.errors.RealtimeError`; the close codes.
* :mod:`.config`: where and how to connect (the endpoint, its credentials
  and the refusal of clear-text keys, the time and size limits) and the
  listeners a connection reports to.
* :mod:`.receiver`: :class:`~.receiver.Receiver`, the reading of one open
  socket (frames, pings, deadlines) as a state object a loop drives.
* :mod:`.loop`: :class:`~.loop.ReceiveLoop` (public as
  ``realtime_sync.ReceiveLoop``), one thread and a selector driving many
  connections' receivers.
* :mod:`.connection`: :class:`~.connection.Connection`, one socket, its
  handshake and its end, read by a thread of its own or by a ReceiveLoop,
  given its listeners; it knows nothing of its owner.

:class:`realtime_sync.api.RealtimeAPI` holds a :class:`~.config.ConnectionConfig`
and makes one :class:`~.connection.Connection` per ``connect()``.
"""

from __future__ import annotations

__all__: "list[str]" = []
