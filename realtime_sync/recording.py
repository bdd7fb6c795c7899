"""Recordings of Realtime sessions: the file format, the recorder and the reader.

A recording is a plain JSON Lines file (UTF-8, one JSON object per line). It
holds every frame of a session in both directions, with when it passed and
which way it went, so that a session can be read, diffed, and replayed to a
client by :class:`realtime_sync.simulator.RealtimeSimulator` (``replay=``)
with no key and no network.

Format ``realtime-sync-recording``, version 1
---------------------------------------------

The first line is the header::

    {"format": "realtime-sync-recording", "version": 1, "protocol": "ga",
     "url": "wss://api.openai.com/v1/realtime", "audio": "kept",
     "created": "2026-01-31T12:00:00.000000+00:00", "library": "realtime_sync 0.1.0"}

- ``format``: always ``"realtime-sync-recording"``.
- ``version``: the format version, an integer (1). A reader refuses a version
  it does not know; fields added later within a version are optional and
  readers ignore fields they do not know.
- ``protocol``: the wire dialect of the session, ``"ga"`` or ``"beta"``: every
  event below is as it was on the wire in that dialect.
- ``url``: the server's URL with credentials masked (``api-key=[redacted]``).
  No handshake header is ever written: no ``Authorization``, no key.
- ``audio``: ``"kept"`` (audio as sent, base64) or ``"elided"`` (see below).
- ``created`` (ISO 8601, UTC) and ``library`` (the writer) are informative.

Every other line is one record, with ``t``, seconds since the recording
began on the monotonic clock (microseconds), and ``dir``:

- ``{"t": 0.0213, "dir": "server", "event": {...}}``: a server event, as it
  came off the wire (``error`` events with any credential the server echoed
  masked). Recorded as it arrives, before the client acts on it.
- ``{"t": 0.0251, "dir": "client", "event": {...}}``: a client event, as
  written on the wire (``event_id`` included).
- ``{"t": 0.0001, "dir": "open"}``: a connection begins (one before the first
  frame of each connection).
- ``{"t": 9.87, "dir": "close", "code": 1000, "reason": null, "error": false, "by": "client"}``:
  the connection ended (the client's ``close`` payload); ``by`` is
  ``"client"`` when the client disconnected, ``"server"`` when the server
  closed it or it was lost (a replay then closes it the same way, with the
  same code, or cuts it when ``code`` is ``null``).

Elided audio (``record_audio=False``): each base64 audio string (the
``delta`` of ``*audio.delta`` events, any string field named ``audio``, such as
``input_audio_buffer.append``'s or an ``input_audio`` content part's) is
replaced by the integer number of bytes it held. A replay sends that many
zero bytes (silence in pcm16) in its place.

Writing (:class:`Recorder`) never slows the socket: each frame is encoded on
the thread that saw it and handed through a bounded queue to a writer thread
(``realtime-sync-recorder``) that writes buffered; the file is flushed when the
queue runs dry and when the recording stops (a client's ``disconnect()``, the
end of ``record()``, or the program's exit). A file that exists and is not a
recording is never replaced.

This module knows nothing of the client: :class:`ClientRecording` is the small
object a :class:`~realtime_sync.client.RealtimeClient` holds for its
``record=`` option and ``record()`` context, hooked on the socket layer's
``client.*`` and ``close`` listeners and its ``on_server_event`` hook.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

from ._recording_file import (
    FORMAT,
    VERSION,
    PathLike,
    ReplayDivergenceError,
    audio_bytes,
    elide_audio,
    restore_audio,
)
from ._version import __version__
from .errors import ConfigurationError
from .events import EventHandler

if TYPE_CHECKING:
    from ._recording_reader import Frame, Recording, read_recording

__all__ = [
    "FORMAT",
    "VERSION",
    "Frame",
    "PathLike",
    "Recording",
    "Recorder",
    "ClientRecording",
    "ReplayDivergenceError",
    "read_recording",
    "elide_audio",
    "restore_audio",
    "audio_bytes",
]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    # The reader is imported when first asked for (PEP 562): a client that
    # records, or does not, never pays for it (nor for dataclasses).
    if name in ("Frame", "Recording", "read_recording"):
        from . import _recording_reader

        value = getattr(_recording_reader, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


ServerHook = Callable[[Dict[str, Any]], None]

_QUEUE_SIZE = 10000  # encoded lines waiting for the writer thread before writers wait
_BUFFER = 1 << 20
_STOP = None


# -- writing ---------------------------------------------------------------------------


class Recorder:
    """Writes one recording file (see the module docstring for the format).

    :meth:`frame` and :meth:`closed` may be called from any thread; the file
    is written by the recorder's own thread. Call :meth:`close` to flush and
    close it (idempotent).

    Args:
        path: the file; created, or replaced when it holds a recording
            (``append=True``: added to). A file that is not a recording is
            never replaced.
        protocol: the session's wire dialect.
        url: the server's URL, credentials already masked.
        record_audio: keep audio (``False``: replace it by its length).

    Raises:
        ConfigurationError: the file cannot be opened for writing, or exists
            and is not a recording.
    """

    def __init__(
        self, path: PathLike, *, protocol: str, url: str, record_audio: bool = True, append: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.record_audio = bool(record_audio)
        exists = os.path.isfile(self.path) and os.path.getsize(self.path) > 0
        if exists and not _is_recording(self.path):
            raise ConfigurationError(
                f"cannot record to {self.path!r}: the file exists and is not a realtime_sync recording "
                "(refusing to replace it)"
            )
        append = append and exists
        try:
            self._file = open(self.path, "a" if append else "w", encoding="utf-8", buffering=_BUFFER)
        except OSError as exc:
            raise ConfigurationError(f"cannot record to {self.path!r}: {exc.strerror or exc}") from None
        self._lock = threading.Lock()
        self._queue: "queue.Queue[Optional[str]]" = queue.Queue(_QUEUE_SIZE)
        self._start = time.monotonic()
        self._open = False  # a connection's frames are being recorded
        self._client_closing = False  # the client is disconnecting: the next close is its own
        self._closed = False
        self._slow = False  # warned that the writer fell behind
        #: The first error met writing the file (``None``: none).
        self.error: Optional[OSError] = None
        self.frames = 0
        if not append:
            header = {
                "format": FORMAT,
                "version": VERSION,
                "protocol": protocol,
                "url": url,
                "audio": "kept" if self.record_audio else "elided",
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "library": f"realtime_sync {__version__}",
            }
            self._queue.put(json.dumps(header, ensure_ascii=False) + "\n")
        self._thread = threading.Thread(target=self._write_lines, name="realtime-sync-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # a program that never disconnects still gets its file

    def __repr__(self) -> str:
        return f"<Recorder {self.path!r} frames={self.frames}{' closed' if self._closed else ''}>"

    def frame(self, direction: str, event: Dict[str, Any]) -> None:
        """Record one wire event (``direction`` ``"client"`` or ``"server"``). Any thread; never raises."""
        try:
            if not self.record_audio:
                event = elide_audio(event)
            encoded = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        except (TypeError, ValueError) as exc:
            logger.warning("recording %s: a %s event could not be encoded: %s", self.path, direction, exc)
            return
        self._put(direction, '"event":' + encoded)

    def client_closing(self, closing: bool = True) -> None:
        """The client is about to disconnect: the next close is recorded as its own (``"by": "client"``)."""
        with self._lock:
            self._client_closing = closing

    def closed(self, payload: Dict[str, Any]) -> None:
        """Record the end of a connection (the ``close`` payload). Any thread."""
        with self._lock:
            by = "client" if self._client_closing else "server"
            self._client_closing = False
            if not self._open or self._closed:
                return
            self._open = False
            fields = {k: payload.get(k) for k in ("code", "reason", "error")}
            fields["by"] = by
            self._enqueue(self._line("close", json.dumps(fields, default=str)[1:-1]))

    def _put(self, direction: str, body: str) -> None:
        with self._lock:
            if self._closed:
                return
            if not self._open:
                self._open = True
                self._enqueue(self._line("open", ""))
            self.frames += 1
            self._enqueue(self._line(direction, body))

    def _line(self, direction: str, body: str) -> str:
        stamp = round(time.monotonic() - self._start, 6)
        return '{"t":%s,"dir":"%s"%s}\n' % (stamp, direction, "," + body if body else "")

    def _enqueue(self, line: str) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            if not self._slow:
                self._slow = True
                logger.warning("recording %s: the disk is slower than the session; waiting for the writer", self.path)
            self._queue.put(line)

    def _write_lines(self) -> None:
        """The writer thread: write queued lines, flush whenever the queue runs dry."""
        while True:
            line = self._queue.get()
            if line is _STOP:
                break
            if self.error is None:
                try:
                    self._file.write(line)
                    if self._queue.empty():
                        self._file.flush()
                except OSError as exc:
                    self.error = exc
                    logger.error("recording %s stopped: %s", self.path, exc)
        try:
            self._file.close()
        except OSError as exc:
            if self.error is None:
                self.error = exc
                logger.error("recording %s: closing the file failed: %s", self.path, exc)

    def close(self, timeout: Optional[float] = 10.0) -> None:
        """Write what is queued, close the file and stop the writer thread (idempotent; any thread)."""
        with self._lock:
            if self._closed:
                return
            if self._open:
                self._open = False
                self._enqueue(self._line("close", '"code":null,"reason":"recording stopped","error":false,"by":"client"'))
            self._closed = True
        self._queue.put(_STOP)
        atexit.unregister(self.close)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)


class ClientRecording:
    """What a client holds for recording: its ``record=`` file and the ``record()`` context.

    The client gives :meth:`hook` its ``on_server_event`` hook (so each server
    event is recorded as it arrives, before the client acts on it) and calls
    :meth:`connecting` before each connection opens and :meth:`disconnected`
    when it disconnects.

    Args:
        path: the file of the ``record=`` option (``None``: only the context).
        record_audio: keep audio in it (``False``: its length only).

    Raises:
        ConfigurationError: ``path`` is not a path.
    """

    def __init__(self, path: Optional[PathLike] = None, *, record_audio: bool = True) -> None:
        self.path = _check_path(path) if path is not None else None
        self.record_audio = bool(record_audio)
        self._lock = threading.Lock()
        self.active: Optional[Recorder] = None
        self._own = False  # the active recorder is the record= one (closed at disconnect)
        self._written = False  # the record= file was started: later connections are added to it
        self._api: Optional[EventHandler] = None

    def hook(self, server_hook: ServerHook) -> ServerHook:
        """``server_hook`` preceded by the recording of the event, when recording."""

        def on_server_event(event: Dict[str, Any]) -> None:
            recorder = self.active
            if recorder is not None:
                recorder.frame("server", event)
            server_hook(event)

        return on_server_event

    def connecting(self, api: Any) -> None:
        """Before a connection opens: start the ``record=`` file (or add to it), listen to the socket layer.

        Raises:
            ConfigurationError: the file cannot be written.
        """
        with self._lock:
            if self.active is None and self.path is not None:
                self.active = Recorder(
                    self.path, protocol=api.protocol, url=api.url, record_audio=self.record_audio, append=self._written
                )
                self._own = True
                self._written = True
            if self.active is not None:
                self._listen(api)

    def disconnecting(self) -> None:
        """The client is about to disconnect (its close is recorded as the client's)."""
        recorder = self.active
        if recorder is not None:
            recorder.client_closing()

    def disconnected(self) -> None:
        """The client disconnected: close the ``record=`` file; a ``record()`` context's is only flushed."""
        with self._lock:
            recorder, own = self.active, self._own
            if recorder is not None:
                recorder.client_closing(False)  # it was closed already: a later close is not the client's
            if own:
                self.active = None
                self._own = False
                self._unlisten()
        if recorder is not None and own:
            recorder.close()

    @contextlib.contextmanager
    def recording(self, api: Any, path: PathLike, *, record_audio: bool = True) -> Iterator[Recorder]:
        """Record to ``path`` for the duration of the block (the client's ``record()``)."""
        name = _check_path(path)
        with self._lock:
            if self.active is not None:
                raise ConfigurationError(f"already recording to {self.active.path!r}: one recording at a time")
            recorder = Recorder(name, protocol=api.protocol, url=api.url, record_audio=record_audio)
            self.active = recorder
            self._own = False
            self._listen(api)
        try:
            yield recorder
        finally:
            with self._lock:
                if self.active is recorder:
                    self.active = None
                    self._unlisten()
            recorder.close()

    # -- the socket layer's listeners (under the lock) ----------------------------------

    def _on_client_event(self, event: Dict[str, Any]) -> None:
        recorder = self.active
        if recorder is not None:
            recorder.frame("client", event)

    def _on_close(self, payload: Dict[str, Any]) -> None:
        recorder = self.active
        if recorder is not None:
            recorder.closed(payload)

    def _listen(self, api: EventHandler) -> None:
        self._unlisten()  # once each, even after the client's reset() cleared them
        api.on("client.*", self._on_client_event)
        api.on("close", self._on_close)
        self._api = api

    def _unlisten(self) -> None:
        api, self._api = self._api, None
        if api is None:
            return
        for name, callback in (("client.*", self._on_client_event), ("close", self._on_close)):
            with contextlib.suppress(ValueError):
                api.off(name, callback)


def _is_recording(path: str) -> bool:
    """Whether the file starts with a recording's header line."""
    try:
        with open(path, encoding="utf-8") as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT


def _check_path(path: Any) -> str:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(f"a recording path must be a str or a path, not {type(path).__name__}")
    name = os.fspath(path)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a recording path must be a non-empty str, not {path!r}")
    return name
