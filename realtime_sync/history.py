"""Save a conversation's history and continue it in a new session.

A Realtime session forgets everything when it ends. To carry a conversation
over, export its items, keep them (in memory or in a JSON file), and create
them again as items in a new session before talking on::

    from realtime_sync import RealtimeClient
    from realtime_sync.history import load_history, save_history

    with RealtimeClient() as client:
        client.ask("My name is Ada.", timeout=30)
        save_history("chat.json", client.conversation.get_items())

    with RealtimeClient() as client:
        client.restore_history(load_history("chat.json"))
        client.ask("What is my name?", timeout=30)

The history is a list of plain, JSON-serialisable dicts shaped like the
``item`` of a ``conversation.item.create`` event (beta model; on a GA
connection the dialect layer renames the content types):

* ``{"type": "message", "role": "user" | "system", "content": [{"type":
  "input_text", "text": ...}]}``
* ``{"type": "message", "role": "assistant", "content": [{"type": "text",
  "text": ...}]}``
* ``{"type": "function_call", "name": ..., "call_id": ..., "arguments": ...}``
* ``{"type": "function_call_output", "call_id": ..., "output": ...}``

What :func:`export_items` keeps and drops:

* Spoken turns become text: user audio carries its transcript (turn on
  ``input_audio_transcription`` in the session to get one), assistant audio
  its audio transcript. Audio itself is never exported, so audio with no
  transcript (and a truncated assistant reply, whose transcript the
  conversation empties) has nothing to carry and is skipped; so is a message
  left with no content.
* Items still ``in_progress`` (a reply being streamed) and ``incomplete``
  ones (a cancelled or cut-off reply) are skipped (except system messages,
  which no response streams but which the conversation leaves
  ``in_progress``), and so is a
  ``function_call_output`` whose ``function_call`` was not exported (the
  server would reject it).
* Item ids are dropped: the old session's ids mean nothing to the new one.
  :func:`restore_history` gives each item a fresh client-chosen id (the
  server accepts ids of up to 32 characters) to recognise the server's
  confirmation.

Threads: :func:`export_items`, :func:`save_history` and :func:`load_history`
run on the calling thread and touch no socket. :func:`restore_history` blocks
until the server confirmed every item, so it must not run on the receive
thread (inside a callback).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Set, Union

from .api import generate_id
from .errors import ConfigurationError, ConnectionClosedError, NotConnectedError, RealtimeTimeoutError, ServerError

__all__ = [
    "HISTORY_FORMAT",
    "HISTORY_VERSION",
    "export_items",
    "save_history",
    "load_history",
    "restore_history",
]

logger = logging.getLogger(__name__)

#: The ``format`` field of a history file written by :func:`save_history`.
HISTORY_FORMAT = "realtime_sync.history"
#: The ``version`` field of a history file; :func:`load_history` reads this version.
HISTORY_VERSION = 1

History = List[Dict[str, Any]]


class ClientLike(Protocol):
    """The public client API :func:`restore_history` uses (a :class:`~realtime_sync.client.RealtimeClient`)."""

    def is_connected(self) -> bool: ...

    def is_callback_thread(self) -> bool: ...

    def create_item(self, item: Dict[str, Any], *, event_id: Optional[str] = None) -> str: ...

    def on(self, name: str, callback: Optional[Callable[[Dict[str, Any]], Any]] = None) -> Any: ...

    def off(self, name: str, callback: Optional[Callable[[Dict[str, Any]], Any]] = None) -> None: ...

PathLike = Union[str, "os.PathLike[str]"]

_ROLES = ("user", "assistant", "system")
_TEXT_PARTS = ("input_text", "text", "output_text")
_AUDIO_PARTS = ("input_audio", "audio", "output_audio")
_SKIPPED_STATUSES = ("in_progress", "incomplete")


# -- export ----------------------------------------------------------------------


def export_items(items: Iterable[Mapping[str, Any]]) -> History:
    """The history of ``items`` as JSON-serialisable ``conversation.item.create`` items.

    Args:
        items: conversation items, in order (``client.conversation.get_items()``),
            or a history exported before (exporting it again changes nothing).

    Returns:
        A new list of new dicts (see the module docstring for what is kept).
        Messages carry text only, user and system parts as ``input_text``,
        assistant parts as ``text``; no ids, statuses or audio.

    Raises:
        ConfigurationError: ``items`` is not an iterable of dicts.
    """
    if isinstance(items, (str, bytes, Mapping)):
        raise ConfigurationError("items must be a list of conversation items (dicts)")
    history: History = []
    call_ids: Set[str] = set()
    for item in items:
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"each item must be a dict, got {type(item).__name__}")
        # A system message is never streamed by a response, but the conversation
        # (like the reference) marks it in_progress and nothing completes it.
        if item.get("status") in _SKIPPED_STATUSES and item.get("role") != "system":
            logger.debug("history: skipping %s item %s", item.get("status"), item.get("id"))
            continue
        item_type = item.get("type")
        entry: Optional[Dict[str, Any]] = None
        if item_type == "message":
            entry = _export_message(item)
        elif item_type == "function_call":
            name, call_id, arguments = item.get("name"), item.get("call_id"), item.get("arguments")
            if isinstance(name, str) and isinstance(call_id, str):
                arguments = arguments if isinstance(arguments, str) else ""
                entry = {"type": "function_call", "name": name, "call_id": call_id, "arguments": arguments}
                call_ids.add(call_id)
        elif item_type == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if call_id in call_ids and isinstance(output, str):
                entry = {"type": "function_call_output", "call_id": call_id, "output": output}
        if entry is None:
            logger.debug("history: nothing to carry in %s item %s", item_type, item.get("id"))
        else:
            history.append(entry)
    return history


def _export_message(item: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    role = item.get("role")
    content = item.get("content")
    if role not in _ROLES or not isinstance(content, list):
        return None
    formatted = item.get("formatted")
    # The conversation empties formatted.transcript of a truncated assistant
    # reply (the listener never heard the rest); the content part keeps it.
    heard_nothing = role == "assistant" and isinstance(formatted, Mapping) and not formatted.get("transcript")
    part_type = "text" if role == "assistant" else "input_text"
    parts: List[Dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            text = part.get("text")
        elif kind in _AUDIO_PARTS and not heard_nothing:
            text = part.get("transcript")
        else:
            continue
        if isinstance(text, str) and text.strip():
            parts.append({"type": part_type, "text": text})
    if not parts:
        return None
    return {"type": "message", "role": role, "content": parts}


# -- files -----------------------------------------------------------------------


def save_history(path: PathLike, items: Iterable[Mapping[str, Any]]) -> History:
    """Export ``items`` (see :func:`export_items`) and write them to a JSON file.

    The file holds ``{"format": "realtime_sync.history", "version": 1,
    "items": [...]}`` in UTF-8. It is written to a new private temporary file
    in the same directory (:func:`tempfile.mkstemp`: a name nobody can
    predict, created exclusively, so a file or symlink planted there is never
    followed) and then moved over ``path`` with :func:`os.replace`, so an
    existing history is never left half written.

    Returns:
        The exported history that was written.

    Raises:
        ConfigurationError: ``items`` is not a list of dicts, or its text
            cannot be written as UTF-8 (a lone surrogate).
        OSError: the file cannot be written.
    """
    history = export_items(items)
    document = {"format": HISTORY_FORMAT, "version": HISTORY_VERSION, "items": history}
    try:
        data = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"the history holds text that is not valid Unicode (a lone surrogate at position {exc.start}); "
            "it cannot be written as UTF-8"
        ) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"the history cannot be written as JSON: {exc}") from None
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    return history


def load_history(path: PathLike) -> History:
    """Read a history written by :func:`save_history`.

    A file holding just the list (``json.dump(export_items(...), f)``) is
    accepted too.

    Returns:
        The history, ready for :meth:`RealtimeClient.restore_history
        <realtime_sync.client.RealtimeClient.restore_history>`.

    Raises:
        ConfigurationError: the file is not JSON, not a history, of another
            version, or holds an entry that is not a valid item.
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as stream:
        try:
            document = json.load(stream)
        except ValueError as exc:
            raise ConfigurationError(f"{path} is not a JSON history file: {exc}") from exc
        except RecursionError:
            raise ConfigurationError(f"{path} is not a history file: its JSON is nested too deeply") from None
    if isinstance(document, dict):
        if document.get("format") != HISTORY_FORMAT:
            raise ConfigurationError(f"{path} is not a realtime_sync history file (no format {HISTORY_FORMAT!r})")
        if document.get("version") != HISTORY_VERSION:
            raise ConfigurationError(
                f"{path} holds history version {document.get('version')!r}; "
                f"this realtime_sync reads version {HISTORY_VERSION}"
            )
        entries = document.get("items")
    else:
        entries = document
    if not isinstance(entries, list):
        raise ConfigurationError(f"{path}: the history must be a list of items")
    for index, entry in enumerate(entries):
        _item_to_create(entry, index)  # validate now, not halfway through a restore
    return entries


# -- restore ---------------------------------------------------------------------


def _item_to_create(entry: Any, index: int) -> Dict[str, Any]:
    """A clean ``conversation.item.create`` item for history entry ``index`` (no id yet).

    Raises:
        ConfigurationError: the entry is not a valid item.
    """

    def bad(why: str) -> ConfigurationError:
        return ConfigurationError(f"history entry {index}: {why}")

    if not isinstance(entry, Mapping):
        raise bad(f"expected a dict, got {type(entry).__name__}")
    item_type = entry.get("type")
    if item_type == "message":
        role = entry.get("role")
        if role not in _ROLES:
            raise bad(f"role must be one of {', '.join(_ROLES)}, got {role!r}")
        content = entry.get("content")
        if not isinstance(content, list) or not content:
            raise bad("a message needs a non-empty content list")
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise bad(f'each content part must be a dict with a "type", got {part!r}')
            parts.append(dict(part))
        return {"type": "message", "role": role, "content": parts}
    if item_type == "function_call":
        for key in ("name", "call_id"):
            if not isinstance(entry.get(key), str) or not entry.get(key):
                raise bad(f"a function_call needs a non-empty string {key!r}")
        arguments = entry.get("arguments", "")
        if not isinstance(arguments, str):
            raise bad("function_call arguments must be a JSON string")
        return {"type": "function_call", "name": entry["name"], "call_id": entry["call_id"], "arguments": arguments}
    if item_type == "function_call_output":
        if not isinstance(entry.get("call_id"), str) or not entry.get("call_id"):
            raise bad("a function_call_output needs a non-empty string 'call_id'")
        if not isinstance(entry.get("output"), str):
            raise bad("function_call_output output must be a string")
        return {"type": "function_call_output", "call_id": entry["call_id"], "output": entry["output"]}
    raise bad(f"type must be message, function_call or function_call_output, got {item_type!r}")


class _Restore:
    """The bookkeeping of one restore: which items the server has confirmed.

    Its callbacks run on the receive thread; :meth:`wait` on the caller's.
    """

    def __init__(self, item_ids: Sequence[str], event_ids: Sequence[str]) -> None:
        self.order = list(item_ids)
        self.pending: Set[str] = set(item_ids)
        self.event_ids = set(event_ids)
        self.created: Dict[str, Dict[str, Any]] = {}
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self._lock = threading.Lock()

    def on_appended(self, payload: Dict[str, Any]) -> None:
        item = payload.get("item") if isinstance(payload, dict) else None
        item_id = item.get("id") if isinstance(item, dict) else None
        with self._lock:
            if item_id not in self.pending:
                return
            assert isinstance(item, dict) and isinstance(item_id, str)
            self.pending.discard(item_id)
            self.created[item_id] = item
            finished = not self.pending
        # The server creates these items whole (status "completed"), but the
        # conversation marks assistant messages and calls in_progress until a
        # response finishes them, which never happens for created items.
        if item.get("status") == "in_progress":
            item["status"] = "completed"
        if finished:
            self.done.set()

    def on_error(self, payload: Dict[str, Any]) -> None:
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, ServerError) and error.event_id in self.event_ids:
            self._fail(error)

    def on_close(self, payload: Dict[str, Any]) -> None:
        code = payload.get("code") if isinstance(payload, dict) else None
        reason = payload.get("reason") if isinstance(payload, dict) else None
        self._fail(
            ConnectionClosedError(
                "the connection closed while restoring the history", code=code, reason=reason
            )
        )

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self.done.set()


def restore_history(
    client: ClientLike, history: Sequence[Mapping[str, Any]], *, timeout: Optional[float] = 10.0
) -> List[Dict[str, Any]]:
    """Create the items of ``history`` in ``client``'s session, in order, and wait for the server.

    Each entry is sent as a ``conversation.item.create`` (with a fresh item
    id; an ``id`` in the entry is ignored). No response is requested: call
    :meth:`~realtime_sync.client.RealtimeClient.ask` or ``create_response``
    to continue the conversation. Restored assistant messages and function
    calls are marked ``completed`` in the client's conversation.

    Args:
        client: a connected :class:`~realtime_sync.client.RealtimeClient`.
        history: from :func:`export_items` or :func:`load_history`, or
            hand-written items of the same shape.
        timeout: seconds to wait for the server to confirm every item
            (``conversation.item.created``); ``None`` waits for ever.

    Returns:
        The created conversation items (live dicts with ``formatted``), in order.

    Raises:
        ConfigurationError: an entry is not a valid item (nothing is sent).
        NotConnectedError: not connected.
        ServerError: the server rejected an item. The entries sent before it
            (and possibly after it) are in the conversation then.
        RealtimeTimeoutError: not every item was confirmed within ``timeout``.
        ConnectionClosedError: the connection ended while waiting.
        RuntimeError: called from inside a callback (the receive thread).
    """
    if client.is_callback_thread():
        raise RuntimeError(
            "restore_history() was called on the thread that delivers the client's events "
            "(from inside a callback); it would wait for ever. Call it from another thread."
        )
    if isinstance(history, (str, bytes, Mapping)):
        raise ConfigurationError("history must be a list of items (from export_items or load_history)")
    if timeout is not None and not timeout >= 0:
        raise ConfigurationError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
    items = [_item_to_create(entry, index) for index, entry in enumerate(history)]
    if not client.is_connected():
        raise NotConnectedError("not connected; call connect() first")
    if not items:
        return []
    events: List[Dict[str, Any]] = []
    for item in items:
        item["id"] = generate_id("item_", 26)
        events.append({"event_id": generate_id("evt_"), "item": item})
    restore = _Restore([item["id"] for item in items], [event["event_id"] for event in events])
    client.on("conversation.item.appended", restore.on_appended)
    client.on("error", restore.on_error)
    client.on("close", restore.on_close)
    try:
        for event in events:
            client.create_item(event["item"], event_id=event["event_id"])
        finished = restore.done.wait(timeout)
    finally:
        for name, callback in (
            ("conversation.item.appended", restore.on_appended),
            ("error", restore.on_error),
            ("close", restore.on_close),
        ):
            try:
                client.off(name, callback)
            except ValueError:  # removed meanwhile (client.reset() on another thread)
                pass
    if restore.error is not None:
        raise restore.error
    if not finished:
        raise RealtimeTimeoutError(
            f"the server confirmed {len(restore.created)} of {len(items)} history items "
            f"within {timeout} seconds"
        )
    logger.debug("history: restored %d items", len(items))
    return [restore.created[item_id] for item_id in restore.order]
