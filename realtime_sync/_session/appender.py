"""The route of ``append_input_audio``: the client event a voice client sends fifty times a second.

:class:`Appender` does what :meth:`Outbound.send <.outbound.Outbound.send>`
and :meth:`RealtimeAPI.send <realtime_sync.api.RealtimeAPI.send>` would do
for an ``input_audio_buffer.append``, with what is the same for every append
worked out once instead of per chunk:

* the event's JSON is ``head + event_id + middle + base64 + tail``
  (:func:`~realtime_sync._transport.encoding.append_template`: the bytes
  :func:`~realtime_sync._transport.encoding.encode_event` writes), as long as
  the dialect sends the append as it is asked for (both do; checked once per
  protocol with :func:`realtime_sync.dialects.client_to_wire`);
* the frame is masked in a buffer kept for the next one
  (:class:`~realtime_sync._transport.writer.FrameWriter`);
* the ``event_id`` (``evt_`` + 17 base58 characters, as
  :func:`~realtime_sync.api.generate_id` makes them) comes from random
  characters drawn 64 ids at a time;
* the events nobody listens to are not built: ``realtime.event`` only when a
  client listener or the ``events()`` queue wants it.

Everything else still happens, in the same order: the reconnection refusal
and the connection check, the input audio record (manual turns' pending
audio, the server-VAD window) before the frame, the record of sent events
(the audio as its length), ``realtime.event``. When something listens to the
socket layer's ``client.*`` (a recording, a user's listener) besides the
client's own listener, or ``debug`` logs each event, the append takes the
general route instead (:meth:`Outbound.send <.outbound.Outbound.send>`),
which dispatches the wire event and logs it.

Thread-safe: the input audio's order lock is held from the refusal to the
frame written, so the record and the wire see appends from several threads
in the same order, and the id stream and the frame buffer have one user at a
time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from .. import audio as _audio
from .. import dialects
from .._transport.encoding import append_template
from .._transport.writer import FrameWriter
from ..api import RealtimeAPI, generate_id
from ..errors import NotConnectedError
from .inbound import now_iso
from .input_audio import InputAudio
from .reconnect import Reconnector
from .sent import SentEvents, audio_placeholder

if TYPE_CHECKING:
    from ..conversation import Conversation

__all__ = ["Appender", "APPEND"]

#: The event type (the same on both wires).
APPEND = "input_audio_buffer.append"
_WHAT = repr(APPEND)
_CLIENT_APPEND = "client." + APPEND  # the socket layer's name for it (the same type on both wires)
_ID_PREFIX = "evt_"
_ID_CHARS = 17  # generate_id("evt_")'s length, 21, less the prefix
_IDS_PER_DRAW = 64

Event = Dict[str, Any]
# head, middle, tail of the append's JSON on this protocol; None: the general route
_Template = Optional[Tuple[bytes, bytes, bytes]]


class EventIds:
    """``evt_`` ids as :func:`~realtime_sync.api.generate_id` makes them, drawn in bulk. One caller at a time."""

    def __init__(self) -> None:
        self._chars = ""
        self._at = 0

    def next(self) -> str:
        at = self._at
        if at + _ID_CHARS > len(self._chars):
            self._chars = generate_id("", _ID_CHARS * _IDS_PER_DRAW)  # uniform base58 from os.urandom
            at = 0
        self._at = at + _ID_CHARS
        return _ID_PREFIX + self._chars[at : at + _ID_CHARS]


class Appender:
    """Sends the client's input audio (any thread).

    Args:
        realtime: the socket layer.
        conversation: its ``input_audio_format`` decides the encoding and rate.
        input_audio: the record of the input audio sent (its ``order`` lock serialises appends).
        sent: the record of sent events.
        send: the general route, :meth:`Outbound.send <.outbound.Outbound.send>`.
        own_listener: the client's own ``client.*`` listener on ``realtime``
            (it ignores what ``send`` sent, so it alone needs no dispatch).
        wants: whether anything listens for a client-level event name now.
        emit: dispatches a client-level event (``realtime.event``).
        turn_detection: the turn detection in force (``None``: manual turns).
        reconnector: the client's, if it reconnects (it refuses appends meanwhile).
    """

    def __init__(
        self,
        *,
        realtime: RealtimeAPI,
        conversation: Conversation,
        input_audio: InputAudio,
        sent: SentEvents,
        send: Callable[[str, Optional[Event]], Any],
        own_listener: Callable[[Event], None],
        wants: Callable[[str], bool],
        emit: Callable[[str, Any], None],
        turn_detection: Callable[[], Optional[str]],
        reconnector: Optional[Reconnector],
    ) -> None:
        self._realtime = realtime
        self._conversation = conversation
        self._input_audio = input_audio
        self._sent = sent
        self._send = send
        self._own_listener = own_listener
        self._wants = wants
        self._emit = emit
        self._turn_detection = turn_detection
        self._reconnector = reconnector
        self._order = input_audio.order
        # the rest is used under self._order only
        self._ids = EventIds()
        self._writer = FrameWriter()
        self._template: Tuple[Optional[str], _Template] = (None, None)
        self._placeholders: Dict[int, str] = {}

    def append(self, samples: Any) -> bool:
        """``append_input_audio(samples)``: record the audio as sent, then send it (see the module)."""
        pcm = _audio.to_pcm16(samples)  # always a new array: later changes by the caller are harmless
        if pcm.shape[0] == 0:
            return True
        input_format = self._conversation.input_audio_format
        audio = _audio.encode_audio(pcm, input_format)
        manual = self._turn_detection() is None
        rate = _audio.sample_rate(input_format)
        # Record before sending (a speech event may follow the frame at once), in wire order.
        with self._order:
            self._refuse()
            self._input_audio.record(pcm, manual=manual, rate=rate)
            realtime = self._realtime
            template = self._wire_template(realtime.protocol)
            if (
                template is None
                or realtime.debug
                or realtime._has_listeners_besides("client.*", self._own_listener)
                or realtime.has_listeners(_CLIENT_APPEND)
            ):
                self._send(APPEND, {"audio": audio})
                return True
            event_id = self._ids.next()
            self._sent.keep(event_id, {"event_id": event_id, "type": APPEND, "audio": self._placeholder(len(audio))})
            if self._wants("realtime.event"):
                event = {"event_id": event_id, "type": APPEND, "audio": audio}
                self._emit("realtime.event", {"time": now_iso(), "source": "client", "event": event})
            head, middle, tail = template
            payload = b"".join((head, event_id.encode("ascii"), middle, audio.encode("ascii"), tail))
            realtime._write_frame(self._writer.text(payload), _WHAT)
        return True

    def _refuse(self) -> None:
        """ReconnectingError while reconnecting (off its worker), NotConnectedError when not connected."""
        reconnector = self._reconnector
        if reconnector is not None and reconnector.active:
            refusal = reconnector.refusal("append input audio")
            if refusal is not None:
                raise refusal
        if not self._realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")

    def _wire_template(self, protocol: str) -> _Template:
        """The append's JSON around its id and audio on ``protocol``; ``None`` when the dialect changes the event."""
        known, template = self._template
        if known == protocol:
            return template
        probe = {"event_id": _ID_PREFIX, "type": APPEND, "audio": ""}
        try:
            wire = dialects.client_to_wire(probe, protocol)
        except Exception:  # an unknown protocol: the general route says so
            wire = None
        template = append_template(APPEND) if wire is not None and list(wire.items()) == list(probe.items()) else None
        self._template = (protocol, template)
        return template

    def _placeholder(self, length: int) -> str:
        """What the record of sent events keeps of the audio (as :func:`.sent.without_audio` writes it)."""
        text = self._placeholders.get(length)
        if text is None:
            if len(self._placeholders) > 64:
                self._placeholders.clear()
            text = self._placeholders[length] = audio_placeholder(length)
        return text
