"""RealtimeClient's response flow and tools (a mixin of :class:`realtime_sync.client.RealtimeClient`).

Response tracking: a ``response.create`` is a :class:`_Ticket`. It is
*reserved* while being sent, *in flight* from the moment the frame is written
(the ``client.*`` hook binds its ``event_id``) until ``response.created``,
then *active* until ``response.done``. While any of these exist the client is
busy, and new requests wait in a queue that ``response.done`` drains, so no
request ever blocks a thread and the server never sees two at once.

Tools: a registered tool's call is handed to a :class:`~realtime_sync._tools.ToolRunner`
when its item is done; each output is sent when ready, and once the response
has finished and every registered call in it has its output, one follow-up
``response.create`` is requested (before anything else queued).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Dict, List, Optional, Set

import numpy as np

from . import audio as _audio
from ._client_support import (
    _ACTIVE_RESPONSE_CODE,
    Event,
    Item,
    _Ask,
    _ClientBase,
    _Ticket,
    _ToolBatch,
    logger,
)
from ._tools import ToolCall, ToolHandler, ToolRunner
from .errors import (
    ConfigurationError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
    ServerError,
    UnknownItemError,
)

__all__: List[str] = []


class _ResponsesMixin(_ClientBase):
    """``create_response``, ``cancel_response``, tools, and the events that drive them."""

    # -- responses ----------------------------------------------------------------

    def create_response(self, response: Optional[Dict[str, Any]] = None) -> bool:
        """Request a model response (``response.create``); never blocks.

        Safe from any thread, including callbacks.

        With turn detection off, input audio appended since the last commit is
        committed first (and becomes the user item's ``formatted["audio"]``).
        While a response is active (or one was requested and not started), the
        request is queued and sent when that response is done.

        Args:
            response: optional per-response settings (``instructions``,
                ``modalities``, ...), sent as the event's ``response`` object.

        Returns:
            ``True`` if ``response.create`` was sent now, ``False`` if queued.

        Raises:
            NotConnectedError: not connected.
        """
        if response is not None and not isinstance(response, dict):
            raise ConfigurationError("response must be a dict of response settings")
        self._require_connected()
        self._commit_pending_audio()
        return self._request_response(_Ticket(options=copy.deepcopy(response)))

    def cancel_response(self, id: Optional[str] = None, sample_count: int = 0) -> Optional[Item]:  # noqa: A002
        """Stop the response in progress and, for audio, cut the item to what was heard.

        Safe from any thread, including callbacks (a ``conversation.interrupted``
        callback may call it).

        Without ``id``: send ``response.cancel`` when a response is active (or
        requested); otherwise send nothing.

        With ``id`` (an assistant message item) and ``sample_count`` (samples
        of its audio that were played): everything is checked first; then
        ``response.cancel`` is sent if a response is still active, and
        ``conversation.item.truncate`` with ``audio_end_ms`` computed from the
        output format's sample rate and capped at the audio received for that
        item. When nothing was heard (0 ms) or the item has no audio part, no
        truncate is sent.

        Returns:
            The item, or ``None`` without ``id``.

        Raises:
            UnknownItemError: no item with that id.
            ConfigurationError: the item is not an assistant message, or
                ``sample_count`` is not a non-negative integer.
            NotConnectedError: not connected.
        """
        self._require_connected()
        if id is None:
            self._cancel_active()
            return None
        if isinstance(sample_count, bool) or not isinstance(sample_count, (int, np.integer)) or sample_count < 0:
            raise ConfigurationError(f"sample_count must be a non-negative integer, got {sample_count!r}")
        item = self.conversation.get_item(id)
        if item is None:
            raise UnknownItemError(f'could not find item "{id}"')
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ConfigurationError(
                f'cancel_response() needs an assistant message, item "{id}" is a '
                f"{item.get('role') or ''} {item.get('type')}".replace("  ", " ")
            )
        content = item.get("content") or []
        audio_index = next(
            (i for i, part in enumerate(content) if isinstance(part, dict) and part.get("type") == "audio"),
            None,
        )
        received = len(item.get("formatted", {}).get("audio", ()))
        rate = _audio.sample_rate(self.conversation.output_audio_format)
        # DESIGN.md's (and the reference's) formula, float division included:
        # floor(sample_count / rate * 1000).
        audio_end_ms = math.floor(min(int(sample_count), received) / rate * 1000)
        self._cancel_active()
        if audio_index is not None and audio_end_ms > 0:
            self._send(
                "conversation.item.truncate",
                {"item_id": id, "content_index": audio_index, "audio_end_ms": audio_end_ms},
            )
        return item

    def active_response_id(self) -> Optional[str]:
        """The id of the response being generated, or ``None``."""
        return self._active_response or None

    def _busy(self) -> bool:
        return bool(self._reserved or self._in_flight or self._active_response is not None)

    def _request_response(self, ticket: _Ticket, *, front: bool = False) -> bool:
        """Send ``response.create`` for ``ticket`` now, or queue it behind the active response."""
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if self._busy():
                if front:
                    self._queued.appendleft(ticket)
                else:
                    self._queued.append(ticket)
                return False
            self._reserved = ticket
        self._send_ticket(ticket)
        return True

    def _send_ticket(self, ticket: _Ticket) -> None:
        """Send the ``response.create`` reserved for ``ticket`` (lock not held)."""
        previous = getattr(self._tls, "ask", None)
        self._tls.ask = ticket.ask
        try:
            self._send("response.create", {"response": ticket.options} if ticket.options else None)
        except BaseException:
            # Not written: it must not keep the client busy.
            with self._lock:
                if self._reserved is ticket:
                    self._reserved = None
                if ticket in self._in_flight:
                    self._in_flight.remove(ticket)
            raise
        finally:
            self._tls.ask = previous

    def _drain_queue(self) -> None:
        """Send the next queued ``response.create`` if nothing is active (receive thread)."""
        with self._lock:
            if not self._live or not self._queued or self._busy():
                return
            ticket = self._queued.popleft()
            self._reserved = ticket
        try:
            self._send_ticket(ticket)
        except RealtimeError as exc:
            logger.warning("could not send the queued response.create: %s", exc)
            if ticket.ask is not None:
                ticket.ask.fail(exc)

    def _cancel_active(self) -> bool:
        with self._lock:
            active = bool(self._reserved or self._in_flight or self._active_response is not None)
        if active:
            self._send("response.cancel")
        return active

    def _on_response_created(self, event: Event) -> None:
        self._process(event)
        response = event.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        with self._lock:
            ticket = self._in_flight.popleft() if self._in_flight else None
            self._active_response = response_id if isinstance(response_id, str) else ""
            self._active_ticket = ticket

    def _on_response_done(self, event: Event) -> None:
        self._process(event)
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        response_id = response.get("id")
        status = response.get("status")
        follow_up: Optional[_Ticket] = None
        finished: Optional[_Ask] = None
        failure: Optional[BaseException] = None
        with self._lock:
            ticket: Optional[_Ticket] = None
            if self._active_response is not None and self._active_response in (response_id, ""):
                ticket = self._active_ticket
                self._active_response = None
                self._active_ticket = None
            ask = ticket.ask if ticket is not None else None
            batch = self._tool_batches.get(response_id)
            if batch is not None and batch.failure is not None:
                # A tool output could not be sent: no follow-up can use it.
                del self._tool_batches[response_id]
                failure = batch.failure
                batch = None
            elif batch is not None and not batch.done:
                batch.done = True
                batch.status = status
                batch.ask = ask
                if not batch.pending:
                    del self._tool_batches[response_id]
                    if status == "completed":
                        follow_up = _Ticket(ask=ask)
                elif status != "completed":
                    batch.ask = None
            if ask is not None and (batch is None or status != "completed"):
                finished = ask
        if finished is not None:
            if failure is not None:
                finished.fail(failure)
            else:
                finished.resolve(response)
        if follow_up is not None:
            self._send_follow_up(follow_up)
        self._drain_queue()

    def _on_server_error(self, event: Event) -> None:
        details = event.get("error")
        error = ServerError(details if isinstance(details, dict) else {"message": str(details)})
        client_event: Optional[Event] = None
        failed: List[_Ask] = []
        retry: Optional[_Ticket] = None
        with self._lock:
            if error.event_id:
                client_event = self._sent.get(error.event_id)
                ticket = self._take_ticket(error.event_id)
                if ticket is not None:
                    if error.code == _ACTIVE_RESPONSE_CODE:
                        retry = ticket  # send it again when the active response ends
                    elif ticket.ask is not None:
                        failed.append(ticket.ask)
                for ask in self._asks:
                    if error.event_id in ask.event_ids and ask not in failed and retry is None:
                        failed.append(ask)
        # A cancel that crossed the end of its response is a harmless race.
        log = logger.debug if error.code == "response_cancel_not_active" else logger.warning
        log("server error: %s", error)
        if retry is not None:
            logger.info("response.create %s came too early; queued until the active response ends", error.event_id)
            self._send_follow_up(retry)
        for ask in failed:
            ask.fail(error)
        self._report(error, event, client_event)
        self._drain_queue()

    def _take_ticket(self, event_id: str) -> Optional[_Ticket]:
        """Remove the response.create ticket with this event id (lock held)."""
        for ticket in self._in_flight:
            if ticket.event_id == event_id:
                self._in_flight.remove(ticket)
                return ticket
        if self._active_ticket is not None and self._active_ticket.event_id == event_id:
            ticket = self._active_ticket
            self._active_ticket = None
            return ticket
        return None

    # -- tools --------------------------------------------------------------------

    def add_tool(self, definition: Dict[str, Any], handler: ToolHandler) -> Dict[str, Any]:
        """Register a tool the model may call, and run ``handler`` when it does.

        Args:
            definition: ``{"name", "description", "parameters"}`` (``type``
                defaults to ``"function"``).
            handler: called as ``handler(arguments)`` with the parsed
                arguments dict, on the tool worker thread; its return value is
                JSON-encoded as the call's output.

        Returns:
            ``{"definition": ..., "handler": ...}``.

        Raises:
            ConfigurationError: no name, handler not callable, or the name is
                already registered (here or in ``session_config["tools"]``).
        """
        name = definition.get("name") if isinstance(definition, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigurationError("the tool definition needs a non-empty \"name\"")
        if any(isinstance(t, dict) and t.get("name") == name for t in self.session_config.get("tools") or []):
            raise ConfigurationError(f'tool "{name}" is already defined in session_config["tools"]')
        if not callable(handler):
            raise ConfigurationError(f'the handler of tool "{name}" must be callable')
        stored = copy.deepcopy(definition)
        # Writers take the lock so two threads adding tools lose neither; the
        # table is replaced, never mutated, so readers need no lock.
        with self._lock:
            if name in self._tools:
                raise ConfigurationError(f'tool "{name}" already added; remove_tool("{name}") first')
            tools = dict(self._tools)
            tools[name] = (stored, handler)
            self._tools = tools
        if self.realtime.is_connected():
            self.update_session()
        return {"definition": stored, "handler": handler}

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool (and update the session when connected).

        Raises:
            ConfigurationError: no tool of that name was added.
        """
        with self._lock:
            if name not in self._tools:
                raise ConfigurationError(f'tool "{name}" does not exist, so it cannot be removed')
            tools = dict(self._tools)
            del tools[name]
            self._tools = tools
        if self.realtime.is_connected():
            self.update_session()
        return True

    @property
    def tools(self) -> Dict[str, Dict[str, Any]]:
        """The registered tools: ``{name: {"definition", "handler"}}`` (a new dict)."""
        return {name: {"definition": d, "handler": h} for name, (d, h) in self._tools.items()}

    def _check_session_tools(self, tools: Any) -> None:
        if not isinstance(tools, (list, tuple)):
            raise ConfigurationError("tools must be a list of tool definitions (dicts)")
        seen: Set[str] = set()
        for tool in tools:
            name = tool.get("name") if isinstance(tool, dict) else None
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"tool definition without a name: {tool!r}")
            if name in self._tools:
                raise ConfigurationError(
                    f'tool "{name}" is already added with add_tool(); remove_tool("{name}") first'
                )
            if name in seen:
                raise ConfigurationError(f'tool "{name}" is defined twice')
            seen.add(name)

    def _start_tool_call(self, event: Event, final: Event) -> None:
        """A function call is done: run it when it is one of ours (receive thread)."""
        if final.get("status", "completed") != "completed":
            return
        name = final.get("name")
        call_id = final.get("call_id")
        entry = self._tools.get(name) if isinstance(name, str) else None
        if entry is None:
            logger.debug("function call %r is not a registered tool; left to callbacks", name)
            return
        if not isinstance(call_id, str):
            self._report(ProtocolError("function_call item without call_id", event=event), event)
            return
        response_id = event.get("response_id")
        with self._lock:
            if not self._live:
                return
            batch = self._tool_batches.get(response_id)
            if batch is None or batch.done:
                batch = self._tool_batches[response_id] = _ToolBatch()
            batch.pending.add(call_id)
            runner = self._runner
            if runner is None:
                runner = self._runner = ToolRunner(self._on_tool_output, self.tool_timeout)
            generation = self._generation
        arguments = final.get("arguments")
        runner.submit(
            ToolCall(
                generation=generation,
                call_id=call_id,
                name=str(name),
                arguments=arguments if isinstance(arguments, str) else "",
                response_id=response_id,
                handler=entry[1],
            )
        )

    def _on_tool_output(self, call: ToolCall, output: str) -> None:
        """Send a tool's output, then the follow-up response when it was the last (tool worker)."""
        with self._lock:
            current = self._live and call.generation == self._generation
        if not current:
            logger.debug("dropping the output of %r: its connection is gone", call)
            return
        try:
            self._send(
                "conversation.item.create",
                {"item": {"type": "function_call_output", "call_id": call.call_id, "output": output}},
            )
        except RealtimeConnectionError as exc:
            logger.warning("could not send the output of %r: %s", call, exc)
            return  # the connection is over: its end fails the waiting asks
        except RealtimeError as exc:
            # Still connected (a send that timed out): no follow-up response can
            # use this call's result, so end the batch and fail an ask() waiting on it.
            logger.warning("could not send the output of %r: %s", call, exc)
            failed_ask: Optional[_Ask] = None
            with self._lock:
                batch = self._tool_batches.get(call.response_id)
                if batch is not None:
                    batch.pending.discard(call.call_id)
                    if batch.done:
                        del self._tool_batches[call.response_id]
                        failed_ask = batch.ask
                    else:  # response.done fails the ask
                        batch.failure = exc
            if failed_ask is not None:
                failed_ask.fail(exc)
            return
        follow_up: Optional[_Ticket] = None
        with self._lock:
            batch = self._tool_batches.get(call.response_id)
            if batch is not None:
                batch.pending.discard(call.call_id)
                if batch.done and not batch.pending:
                    del self._tool_batches[call.response_id]
                    if batch.status == "completed":
                        follow_up = _Ticket(ask=batch.ask)
        if follow_up is not None:
            self._send_follow_up(follow_up)

    def _send_follow_up(self, ticket: _Ticket) -> None:
        try:
            self._request_response(ticket, front=True)
        except RealtimeError as exc:
            logger.warning("could not request the response after the tool calls: %s", exc)
            if ticket.ask is not None:
                ticket.ask.fail(exc)
