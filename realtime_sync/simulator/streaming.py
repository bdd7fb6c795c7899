"""Response streaming for the simulator: the part of a session that talks.

:class:`ResponseStreamer` is held by the session (:mod:`.session`). It runs on
the simulator's loop thread (:mod:`.runtime`), with no thread of its own:
each response is a paced job (:mod:`.pacing`), a generator that streams the
response in the real server's event order and yields the time its next
event is due, stepped by a loop timer. It takes the session lock for every
state change plus the events that report it, and checks for cancellation
under that lock before every delta, so nothing streams after a
``response.cancel`` has been handled; a cancel (or a close) ends the wait for
the next paced event at once. A custom responder, and the simulated MCP
tools, run on the runtime's pool, off the loop: a slow one delays its own
response, not the other sessions.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import re
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Generator, List, Optional, Tuple

import numpy as np

from .. import audio as _audio
from .config import new_id
from .mcp import approved_requests, call_mcp_tool, mcp_server_tool, needs_approval
from .pacing import Stepper
from .responder import CHARS_PER_SECOND, Reply, coerce_reply, default_responder, synthesize_speech
from .runtime import Runtime
from .state import Closed, EncodedAudio, SendEvent, SessionState, SimOptions, SimResponse

__all__ = ["ResponseStreamer"]

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\S+\s*|\s+")
_UNPACED_TURN = 16  # an unpaced stream gives the loop a turn every this many steps
#: A part of a response's stream: yields what it waits for (:mod:`.pacing`), returns its result.
Streaming = Generator[Any, Any, Any]


@functools.lru_cache(maxsize=256)
def _word_audio(word: str, rate: int, voice: str, audio_format: str, chunk: int) -> Tuple[Tuple[np.ndarray, str], ...]:
    """The audio of one word, cut in deltas of ``chunk`` samples: each as samples (read-only) and as sent (base64).

    Words recur (replies repeat them, every session speaks the same canned
    replies): each is synthesised and encoded once, not once per delta.
    """
    samples = synthesize_speech(word, rate, voice=voice)
    samples.setflags(write=False)
    return tuple(
        (samples[offset : offset + chunk], EncodedAudio(_audio.encode_audio(samples[offset : offset + chunk], audio_format)))
        for offset in range(0, len(samples), chunk)
    )


class ResponseStreamer:
    """Streams one session's responses, one at a time, as paced jobs on the simulator's loop.

    Args:
        state: the session's shared state (conversation, lock, closed flag).
        options: the simulator's options (responder, pacing, chunk size).
        send: writes one server event (the session's outbox).
        name: the session id, for logs.
        runtime: the simulator's loop (timers) and pool (user code).
        ready: the connection's flow control (:meth:`.channel.Channel.ready`): None,
            or a future to wait for before streaming more.
    """

    def __init__(
        self,
        state: SessionState,
        options: SimOptions,
        send: SendEvent,
        name: str,
        runtime: Runtime,
        ready: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.state = state
        self.options = options
        self.name = name
        self.runtime = runtime
        self._send = send
        self._ready = ready
        self._requests_left = options.rate_limit_requests
        self._tokens_left = options.rate_limit_tokens
        self._jobs: Deque[SimResponse] = deque()
        self._stepper = Stepper(runtime, self._ended)
        self._current: Optional[SimResponse] = None
        self._stopped = False
        self._steps = 0

    def submit(self, response: SimResponse) -> None:
        """Queue a response; it streams after those queued before it (any thread)."""
        response.cancel_event.on_set = self._stepper.interrupt
        self._jobs.append(response)
        self.runtime.soon(self._next)

    def stop(self) -> None:
        """Cancel the active response, drop queued ones and end the stream at once (any thread).

        The caller has set ``state.closed``.
        """
        with self.state.lock:
            if self.state.active is not None:
                self.state.active.cancel("client_cancelled")
            while self._jobs:
                self._jobs.popleft().cancel("client_cancelled")
        self.runtime.soon(self._stop)

    def _stop(self) -> None:
        self._stopped = True
        self._current = None
        self._stepper.stop()

    def _next(self) -> None:
        """Start the next queued response unless one streams (loop thread)."""
        if self._stepper.busy or self._stopped:
            return
        if self._jobs and not self.state.closed.is_set():
            self._current = self._jobs.popleft()
            self._stepper.run(self._stream(self._current))

    def _ended(self, error: Optional[BaseException]) -> None:
        response, self._current = self._current, None
        if isinstance(error, Closed):
            self._stopped = True
            return
        if error is not None and response is not None:
            logger.error("simulator failed while streaming response %s", response.id, exc_info=error)
            with self.state.lock:
                if self.state.active is response:
                    self.state.active = None
        self._next()

    def _response_object(self, response: SimResponse, status: str) -> Dict[str, Any]:
        config = response.config
        return {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": None,
            "output": [],
            "conversation_id": self.state.conversation_id if response.in_conversation else None,
            "modalities": list(config.get("modalities") or []),
            "voice": config.get("voice"),
            "output_audio_format": config.get("output_audio_format"),
            "temperature": config.get("temperature"),
            "max_output_tokens": config.get("max_response_output_tokens"),
            "metadata": config.get("metadata"),
            "usage": None,
        }

    def _pace(self, response: SimResponse, at_seconds: float) -> Streaming:
        """Wait until ``at_seconds`` of output is due, and for room in the connection's queue; False when cancelled.

        Raises:
            Closed: the session has closed.
        """
        speed = self.options.speed
        cancel = response.cancel_event
        if speed:
            due = response.started + at_seconds / speed
            if due > time.monotonic() and not cancel.is_set():
                yield due
        else:
            self._steps += 1
            if self._steps % _UNPACED_TURN == 0:
                yield None
        room = self._ready() if self._ready is not None else None
        while room is not None and not cancel.is_set() and not self.state.closed.is_set():
            yield room
            room = self._ready() if self._ready is not None else None
        if self.state.closed.is_set():
            raise Closed()
        return not cancel.is_set()

    def _run_user_code(self, function: Callable[..., Any], *args: Any) -> Streaming:
        """``function(*args)`` on the runtime's pool (user code), its result; or inline when it is ours."""
        if function is default_responder:
            return function(*args)
        future = self.runtime.offload(function, *args)
        yield future
        return future.result()

    def _model_input(self, response: SimResponse) -> List[Dict[str, Any]]:
        """The items the responder sees, with simulated transcripts of user audio (lock held)."""
        if response.config.get("input") is not None:
            source = []
            for entry in response.config["input"]:
                if isinstance(entry, dict) and entry.get("type") == "item_reference":
                    position = self.state.find(entry.get("id"))
                    if position >= 0:
                        source.append(self.state.items[position])
                else:
                    source.append(entry)
        else:
            source = self.state.items
        items = copy.deepcopy(source)
        for item in items:
            heard = self.state.heard.get(str(item.get("id")))
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "input_audio":
                    part.pop("audio", None)
                    if not part.get("transcript") and heard is not None:
                        part["transcript"] = heard
        return items

    def _stream(self, response: SimResponse) -> Streaming:
        response.started = time.monotonic()
        with self.state.lock:
            self._send({"type": "response.created", "response": self._response_object(response, "in_progress")})
            approved = approved_requests(self.state.items) if response.in_conversation else []
        text_tokens = audio_tokens = 0
        for request in approved:  # calls the client approved are made before the model speaks
            if response.cancel_event.is_set():
                break
            text_tokens += yield from self._stream_mcp_call(
                response, request, str(request["arguments"]), str(request["id"])
            )
        with self.state.lock:
            items = self._model_input(response)
        reply: Optional[Reply] = None
        failure: Optional[Dict[str, Any]] = None
        if not response.cancel_event.is_set():
            try:
                answer = yield from self._run_user_code(self.options.responder, items, copy.deepcopy(response.config))
                reply = coerce_reply(answer)
            except Exception:  # user code: the response fails, the session goes on
                logger.exception("simulator responder raised")
                failure = {"type": "server_error", "code": "responder_error"}  # the spec has no message here
        incomplete = False
        if reply is not None:
            text, incomplete = self._apply_token_limit(response, reply)
            if reply.mcp_tool and not response.cancel_event.is_set():
                text_tokens += yield from self._stream_mcp_reply(response, reply)
            if text and not response.cancel_event.is_set():
                text_tokens, audio_tokens = yield from self._stream_message(response, text)
            if reply.tool_name and not incomplete and not response.cancel_event.is_set():
                text_tokens += yield from self._stream_function_call(response, reply)
        self._finish(response, items, failure, incomplete, text_tokens, audio_tokens)

    def _apply_token_limit(self, response: SimResponse, reply: Reply) -> Tuple[str, bool]:
        limit = response.config.get("max_response_output_tokens", "inf")
        text = reply.text
        if isinstance(limit, int) and math.ceil(len(text) / 4) > limit:
            return text[: limit * 4], True
        return text, False

    def _add_output_item(self, response: SimResponse, item: Dict[str, Any]) -> int:
        """Send output_item.added and conversation.item.created (in that order, as the real server)."""
        with self.state.lock:
            output_index = len(response.output)
            response.output.append(item)
            self._send(
                {
                    "type": "response.output_item.added",
                    "response_id": response.id,
                    "output_index": output_index,
                    "item": copy.deepcopy(item),
                }
            )
            if response.in_conversation:
                previous = self.state.items[-1]["id"] if self.state.items else None
                self.state.items.append(item)
                self._send(
                    {"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)}
                )
        return output_index

    def _done_output_item(self, response: SimResponse, output_index: int, item: Dict[str, Any], cancelled: bool) -> None:
        """Settle an output item's status; send ``response.output_item.done`` and ``conversation.item.done`` (lock held)."""
        if "status" in item:  # MCP items have none
            item["status"] = "incomplete" if cancelled else "completed"
        self._send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": output_index,
                "item": copy.deepcopy(item),
            }
        )
        if response.in_conversation:
            position = self.state.find(item["id"])
            if position >= 0:
                previous = self.state.items[position - 1]["id"] if position > 0 else None
                self._send({"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)})

    def _stream_mcp_reply(self, response: SimResponse, reply: Reply) -> Streaming:
        """The MCP call a reply asks for: an approval request, or the call itself when none is needed."""
        server = mcp_server_tool(response.config.get("tools") or [], reply.mcp_server)
        name = str(reply.mcp_tool)
        if server is None:
            logger.warning("simulator: reply asks for MCP tool %r but the session has no such MCP server", name)
            return 0
        arguments = reply.mcp_arguments_json()
        if not needs_approval(server, name):
            request = {"server_label": server["server_label"], "name": name}
            return (yield from self._stream_mcp_call(response, request, arguments, None))
        item: Dict[str, Any] = {
            "id": new_id("mcpr"),
            "type": "mcp_approval_request",
            "server_label": server["server_label"],
            "name": name,
            "arguments": arguments,
        }
        output_index = self._add_output_item(response, item)
        with self.state.lock:
            self._done_output_item(response, output_index, item, False)
        return math.ceil(len(arguments) / 4)

    def _stream_arguments(
        self, response: SimResponse, item: Dict[str, Any], arguments: str, event_type: str, where: Dict[str, Any]
    ) -> Streaming:
        """Stream ``arguments`` into ``item["arguments"]`` as ``event_type`` deltas, paced, until cancelled."""
        step = 12
        for offset in range(0, len(arguments), step):
            if not (yield from self._pace(response, offset / (CHARS_PER_SECOND * 4))):
                return
            delta = arguments[offset : offset + step]
            with self.state.lock:
                if response.cancel_event.is_set():
                    return
                item["arguments"] += delta
                self._send({"type": event_type, **where, "delta": delta})

    def _stream_mcp_call(
        self, response: SimResponse, request: Dict[str, Any], arguments: str, approval_request_id: Optional[str]
    ) -> Streaming:
        """Stream one ``mcp_call``: its arguments, then the simulated server's output or error."""
        label, name = str(request["server_label"]), str(request["name"])
        item: Dict[str, Any] = {
            "id": new_id("mcp"),
            "type": "mcp_call",
            "server_label": label,
            "name": name,
            "arguments": "",
            "approval_request_id": approval_request_id,
            "output": None,
            "error": None,
        }
        output_index = self._add_output_item(response, item)
        where = {"response_id": response.id, "item_id": item["id"], "output_index": output_index}
        yield from self._stream_arguments(response, item, arguments, "response.mcp_call_arguments.delta", where)
        with self.state.lock:
            self._send({"type": "response.mcp_call_arguments.done", **where, "arguments": item["arguments"]})
            self._send({"type": "response.mcp_call.in_progress", "item_id": item["id"], "output_index": output_index})
        cancelled = response.cancel_event.is_set()
        output: Any = None
        error: Any = None
        if not cancelled:
            output, error = yield from self._run_user_code(call_mcp_tool, self.options.mcp_servers, label, name, arguments)
        with self.state.lock:
            item["output"], item["error"] = output, error
            done = "response.mcp_call.failed" if error is not None or cancelled else "response.mcp_call.completed"
            self._send({"type": done, "item_id": item["id"], "output_index": output_index})
            self._done_output_item(response, output_index, item, cancelled)
        return math.ceil(len(item["arguments"]) / 4)

    def _stream_message(self, response: SimResponse, text: str) -> Streaming:
        config = response.config
        with_audio = "audio" in (config.get("modalities") or [])
        item_id = new_id("item")
        item: Dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        output_index = self._add_output_item(response, item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": output_index, "content_index": 0}
        part: Dict[str, Any] = {"type": "audio", "transcript": ""} if with_audio else {"type": "text", "text": ""}
        with self.state.lock:
            item["content"].append(part)
            self._send({"type": "response.content_part.added", **where, "part": dict(part)})
        audio_format = config.get("output_audio_format") or "pcm16"
        rate = _audio.sample_rate(audio_format)
        voice = str(config.get("voice") or "alloy")
        chunk = max(1, rate * self.options.audio_chunk_ms // 1000)
        if with_audio:
            with self.state.lock:
                self.state.audio[item_id] = [[], rate]
        sent_text = ""
        sent_samples = 0
        for match in _WORD.finditer(text):
            piece = match.group()
            if not (yield from self._pace(response, match.start() / CHARS_PER_SECOND)):
                break
            with self.state.lock:
                # checked under the lock: nothing streams after a cancel has been handled
                if response.cancel_event.is_set():
                    break
                if with_audio:
                    part["transcript"] += piece
                    self._send({"type": "response.audio_transcript.delta", **where, "delta": piece})
                else:
                    part["text"] += piece
                    self._send({"type": "response.text.delta", **where, "delta": piece})
            sent_text += piece
            if not with_audio:
                continue
            # synthesised word by word, so a long reply costs nothing once cancelled
            for piece_samples, encoded in _word_audio(piece, rate, voice, audio_format, chunk):
                if not (yield from self._pace(response, sent_samples / rate)):
                    break
                with self.state.lock:
                    if response.cancel_event.is_set():
                        break
                    self.state.audio_sent = True
                    self.state.audio[item_id][0].append(piece_samples)
                    self._send({"type": "response.audio.delta", **where, "delta": encoded})
                sent_samples += len(piece_samples)
            if response.cancel_event.is_set():
                break
        cancelled = response.cancel_event.is_set()
        with self.state.lock:
            if with_audio:
                self._send({"type": "response.audio.done", **where})
                self._send({"type": "response.audio_transcript.done", **where, "transcript": sent_text})
            else:
                self._send({"type": "response.text.done", **where, "text": sent_text})
            self._send({"type": "response.content_part.done", **where, "part": dict(part)})
            self._done_output_item(response, output_index, item, cancelled)
        tokens = math.ceil(len(sent_text) / 4)
        audio_tokens = math.ceil(sent_samples * 1000 / rate / 50) if with_audio else 0
        return tokens, audio_tokens

    def _stream_function_call(self, response: SimResponse, reply: Reply) -> Streaming:
        arguments = reply.arguments_json()
        item_id = new_id("item")
        call_id = new_id("call", 16)
        item: Dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": reply.tool_name,
            "call_id": call_id,
            "arguments": "",
        }
        output_index = self._add_output_item(response, item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": output_index, "call_id": call_id}
        yield from self._stream_arguments(response, item, arguments, "response.function_call_arguments.delta", where)
        cancelled = response.cancel_event.is_set()
        with self.state.lock:
            self._send(
                {"type": "response.function_call_arguments.done", **where, "name": item["name"], "arguments": item["arguments"]}
            )
            self._done_output_item(response, output_index, item, cancelled)
        return math.ceil(len(item["arguments"]) / 4)

    def _finish(
        self,
        response: SimResponse,
        items: List[Dict[str, Any]],
        failure: Optional[Dict[str, Any]],
        incomplete: bool,
        text_tokens: int,
        audio_tokens: int,
    ) -> None:
        input_text = sum(
            math.ceil(len(json.dumps(i.get("content") or i.get("output") or i.get("arguments") or "")) / 4)
            for i in items
        )
        input_audio = sum(
            1 for i in items for p in (i.get("content") or []) if isinstance(p, dict) and p.get("type") == "input_audio"
        ) * 25
        output_tokens = text_tokens + audio_tokens
        usage: Dict[str, Any] = {
            "total_tokens": input_text + input_audio + output_tokens,
            "input_tokens": input_text + input_audio,
            "output_tokens": output_tokens,
            "input_token_details": {"cached_tokens": 0, "text_tokens": input_text, "audio_tokens": input_audio},
            "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens},
        }
        body = self._response_object(response, "completed")
        if failure is not None:
            body["status"] = "failed"
            body["status_details"] = {"type": "failed", "error": failure}
        elif response.cancel_event.is_set():
            body["status"] = "cancelled"
            body["status_details"] = {"type": "cancelled", "reason": response.cancel_reason or "client_cancelled"}
        elif incomplete:
            body["status"] = "incomplete"
            body["status_details"] = {"type": "incomplete", "reason": "max_output_tokens"}
        body["output"] = copy.deepcopy(response.output)
        body["usage"] = usage
        with self.state.lock:
            # free the conversation before response.done so an immediate
            # response.create from the client is accepted
            if self.state.active is response:
                self.state.active = None
            self._requests_left = max(0, self._requests_left - 1)
            self._tokens_left = max(0, self._tokens_left - usage["total_tokens"])
            self._send({"type": "response.done", "response": body})
            self._send(
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {
                            "name": "requests",
                            "limit": self.options.rate_limit_requests,
                            "remaining": self._requests_left,
                            "reset_seconds": 0.012,
                        },
                        {
                            "name": "tokens",
                            "limit": self.options.rate_limit_tokens,
                            "remaining": self._tokens_left,
                            "reset_seconds": round(usage["total_tokens"] * 60.0 / self.options.rate_limit_tokens, 3),
                        },
                    ],
                }
            )
