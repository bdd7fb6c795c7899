"""The route of every server event through the client.

:class:`Inbound` is given, as ``RealtimeAPI(on_server_event=...)``, every
parsed server event on the receive thread, before the socket layer's
``server.<type>`` / ``server.*`` listeners run. It translates the event from
the wire dialect to the beta model (:func:`realtime_sync.dialects.server_from_wire`),
routes it by type into the conversation and the session parts (response
queue, input audio, tools), and dispatches the client-level events through
the ``emit`` callable it was given: ``conversation.updated``,
``conversation.item.appended``, ``conversation.item.completed``,
``conversation.interrupted``, ``error`` and server-side ``realtime.event``.
So a user's ``server.*`` listener always reads the conversation already
updated by the event it is given, as in the JavaScript reference.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import audio as _audio
from .. import dialects
from ..conversation import HANDLED_EVENTS, Conversation
from ..errors import ProtocolError, RealtimeError, ServerError
from .input_audio import InputAudio
from .requests import NOT_ACTIVE_CODE, Ask, ResponseQueue
from .sent import SentEvents
from .tools import ToolBox

__all__ = ["Inbound", "now_iso"]

logger = logging.getLogger(__name__)

Event = Dict[str, Any]
Item = Dict[str, Any]

def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds (``realtime.event``'s ``time``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class Inbound:
    """Routes server events into the conversation and the session parts (receive thread).

    Args:
        conversation, responses, input_audio, tools, sent: the client's parts.
        protocol: returns the connection's wire dialect.
        emit: dispatches a client-level event (``emit(name, payload)``).
        wants: whether anything listens for a client-level event name now.
        on_session_created: called once ``session.created`` is handled.

    Attributes:
        session: the last session object the server sent, or ``None``.
        expired: whether the server said the session hit its maximum
            duration (an ``error`` with code ``session_expired``).
    """

    def __init__(
        self,
        *,
        conversation: Conversation,
        responses: ResponseQueue,
        input_audio: InputAudio,
        tools: ToolBox,
        sent: SentEvents,
        protocol: Callable[[], str],
        emit: Callable[[str, Any], None],
        wants: Callable[[str], bool],
        on_session_created: Callable[[], None],
    ) -> None:
        self.conversation = conversation
        self._responses = responses
        self._input_audio = input_audio
        self._tools = tools
        self._sent = sent
        self._protocol = protocol
        self._emit = emit
        self._wants = wants
        self._on_session_created = on_session_created
        self.expired = False
        self.session: Optional[Dict[str, Any]] = None
        # Every event the conversation folds in gets at least a conversation.updated
        # when it changes an item (deltas, GA transcription deltas, MCP events...).
        routes: Dict[str, Callable[[Event], None]] = {event_type: self._plain for event_type in HANDLED_EVENTS}
        routes.update(
            {
                "error": self._error,
                "session.created": self._session,
                "session.updated": self._session,
                "conversation.item.created": self._item_created,
                "conversation.item.done": self._item_done,
                "input_audio_buffer.speech_started": self._speech_started,
                "input_audio_buffer.speech_stopped": self._speech_stopped,
                "response.created": self._response_created,
                "response.output_item.done": self._output_item_done,
                "response.done": self._response_done,
            }
        )
        self._routes = routes

    # -- the entry point ------------------------------------------------------------

    def handle(self, wire_event: Event) -> None:
        """One server event from the wire: translate, route, then ``realtime.event``."""
        protocol = self._protocol()
        if protocol == "beta":
            event = wire_event
        else:
            try:
                event = dialects.server_from_wire(wire_event, protocol)
            except Exception as exc:  # never let one odd event stop the loop
                self.process_failed(exc, wire_event)
                return
        handler = self._routes.get(event.get("type"))  # type: ignore[arg-type]
        if handler is not None:
            handler(event)
        if self._wants("realtime.event"):
            self._emit("realtime.event", {"time": now_iso(), "source": "server", "event": event})

    # -- helpers --------------------------------------------------------------------

    def report(self, error: RealtimeError, event: Optional[Event], client_event: Optional[Event] = None) -> None:
        """Dispatch ``error`` with the standard payload."""
        self._emit("error", {"error": error, "event": event, "client_event": client_event, "raw": None})

    def process(self, event: Event, *args: Any, **kwargs: Any) -> Tuple[Optional[Item], Any]:
        """Fold ``event`` into the conversation; failures become ``error`` dispatches."""
        try:
            return self.conversation.process_event(event, *args, **kwargs)
        except Exception as exc:
            self.process_failed(exc, event)
        return None, None

    def process_failed(self, exc: Exception, event: Event) -> None:
        if isinstance(exc, RealtimeError):
            logger.warning("%s (event %s)", exc, event.get("event_id"))
            self.report(exc, event)
        else:  # a bug: report it, keep the socket thread alive
            logger.error("processing %s failed", event.get("type"), exc_info=exc)
            self.report(ProtocolError(f"{event.get('type')}: could not be processed: {exc}", event=event), event)

    # -- the session ---------------------------------------------------------------------

    def new_session(self) -> None:
        """A new connection: forget the old session object and its expiry."""
        self.session = None
        self.expired = False

    def _session(self, event: Event) -> None:
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
            try:
                self.apply_formats(session)
            except RealtimeError as exc:
                self.report(exc, event)
        if event.get("type") == "session.created":
            self._on_session_created()

    def apply_formats(self, session: Dict[str, Any]) -> None:
        """Point the conversation at the audio formats named in ``session`` (any thread)."""
        for key in ("input_audio_format", "output_audio_format"):
            value = session.get(key)
            if value in _audio.AUDIO_FORMATS and getattr(self.conversation, key) != value:
                setattr(self.conversation, key, value)
                if key == "input_audio_format":
                    self._input_audio.restart()  # offsets were counted at the old rate

    # -- conversation events ------------------------------------------------------------

    def _plain(self, event: Event) -> None:
        # The hot path (every delta): no wrappers, and no payload nobody receives.
        try:
            item, delta = self.conversation.process_event(event)
        except Exception as exc:
            self.process_failed(exc, event)
            return
        if item is not None and self._wants("conversation.updated"):
            self._emit("conversation.updated", {"item": item, "delta": delta})

    def _item_created(self, event: Event) -> None:
        # A repeated conversation.item.created (a relay's retry, or a GA server's
        # conversation.item.added followed by .created) updates the stored item
        # but appends nothing: appended/completed are dispatched once per item.
        raw = event.get("item")
        item_id = raw.get("id") if isinstance(raw, dict) else None
        known = isinstance(item_id, str) and self.conversation.get_item(item_id) is not None
        item, delta = self.process(event)
        if item is None:
            return
        self._emit("conversation.updated", {"item": item, "delta": delta})
        if known:
            return
        self._emit("conversation.item.appended", {"item": item})
        self._completed(item)

    def _completed(self, item: Item) -> None:
        """Dispatch ``conversation.item.completed`` once per item (several events complete one)."""
        item_id = item.get("id")
        if isinstance(item_id, str) and self.conversation.claim_completion(item_id):
            self._emit("conversation.item.completed", {"item": item})

    def _item_done(self, event: Event) -> None:
        """GA ``conversation.item.done``: the item is final."""
        item, delta = self.process(event)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})
            self._completed(item)

    def _output_item_done(self, event: Event) -> None:
        item, delta = self.process(event)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})
            self._completed(item)
        final = event.get("item")
        if isinstance(final, dict) and final.get("type") == "function_call":
            self._start_tool_call(event, final, item)

    def _speech_started(self, event: Event) -> None:
        self.process(event)  # the conversation keeps the (checked) start
        self._emit("conversation.interrupted", {})

    def _speech_stopped(self, event: Event) -> None:
        rate = _audio.sample_rate(self.conversation.input_audio_format)
        item_id = event.get("item_id")
        start_ms = self.conversation.speech_start_ms(item_id) if isinstance(item_id, str) else None
        buffer, offset = self._input_audio.window_from(start_ms, rate)
        item, delta = self.process(event, buffer, input_audio_offset=offset)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})

    # -- responses and tools --------------------------------------------------------------

    def _response_created(self, event: Event) -> None:
        self.process(event)
        response = event.get("response")
        self._responses.created(response.get("id") if isinstance(response, dict) else None)

    def _response_done(self, event: Event) -> None:
        self.process(event)
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        response_id = response.get("id")
        ticket = self._responses.done(response_id)
        ask = ticket.ask if ticket is not None else None
        continues, failure = self._tools.response_done(
            response_id if isinstance(response_id, str) else None, response.get("status"), ask
        )
        if ask is not None and not continues:
            if failure is not None:
                ask.fail(failure)
            else:
                ask.resolve(response)
        self._responses.drain()

    def _start_tool_call(self, event: Event, final: Event, item: Optional[Item]) -> None:
        """A function call is done: run it when it is one of ours."""
        if final.get("status", "completed") != "completed":
            return
        name = final.get("name")
        if not isinstance(name, str) or name not in self._tools:
            logger.debug("function call %r is not a registered tool; left to callbacks", name)
            return
        call_id = final.get("call_id")
        if not isinstance(call_id, str):
            self.report(ProtocolError("function_call item without call_id", event=event), event)
            return
        arguments = final.get("arguments")
        if not isinstance(arguments, str) and item is not None:
            # The server left the arguments out of the final item: the streamed ones are in ours.
            arguments = item.get("arguments")
        response_id = event.get("response_id")
        self._tools.start(
            response_id if isinstance(response_id, str) else None,
            call_id,
            name,
            arguments if isinstance(arguments, str) else "",
        )

    def _error(self, event: Event) -> None:
        details = event.get("error")
        error = ServerError(details if isinstance(details, dict) else {"message": str(details)})
        event_id = error.event_id if isinstance(error.event_id, str) else None
        client_event = self._sent.get(event_id)
        failed: List[Ask] = []
        requeued = False
        if event_id is not None:
            ticket, requeued = self._responses.rejected(event_id, error.code)
            if ticket is not None and not requeued and ticket.ask is not None:
                failed.append(ticket.ask)
            ask = self._sent.handle_for(event_id)
            if isinstance(ask, Ask) and not requeued and ask not in failed:
                failed.append(ask)
        if error.code == "session_expired":
            self.expired = True
        if error.code == NOT_ACTIVE_CODE:
            # A cancel that crossed the end of its response is a harmless race; but
            # a response we still hold active lost its response.done: move on.
            logger.debug("server error: %s", error)
            stale = self._responses.server_says_inactive()
            if stale is not None and stale.ask is not None:
                failed.append(stale.ask)
        else:
            logger.warning("server error: %s", error)
        if requeued:
            logger.info("response.create %s came too early; queued until the active response ends", event_id)
        for ask in failed:
            ask.fail(error)
        self.report(error, event, client_event)
        self._responses.drain()
