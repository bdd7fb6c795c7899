"""Microphone: capture from an input device in chunks at the session's rate (private).

The public name is :class:`realtime_sync.devices.Microphone`; the package
docstring describes the threads. PortAudio calls :meth:`Microphone._on_portaudio`
on its own audio thread, which only queues the raw bytes; the worker thread
``realtime-sync-mic`` converts, resamples and cuts them into chunks.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import audio as _audio
from ..errors import AudioDeviceError, ConfigurationError
from . import _portaudio
from ._portaudio import DeviceSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..client import RealtimeClient

__all__ = ["ChunkCallback", "ErrorCallback", "Microphone"]

logger = logging.getLogger(__name__)

#: A microphone chunk callback: receives one mono int16 numpy array at the
#: input format's rate (24 kHz for pcm16, 8 kHz for G.711).
ChunkCallback = Callable[[np.ndarray], Any]
#: Called with the exception when a device fails while streaming.
ErrorCallback = Callable[[BaseException], Any]

_STOP = object()
_FLUSH = object()


class Microphone:
    """Capture mono audio from an input device in chunks at the session's input rate.

    Args:
        device: device index, a case-insensitive part of its name, or None for
            the system default input.
        audio_format: the session's ``input_audio_format`` (``"pcm16"`` gives
            24 kHz chunks, ``"g711_ulaw"``/``"g711_alaw"`` 8 kHz chunks; chunks
            are always int16 samples, the client encodes them for the wire).
        chunk_ms: chunk length in milliseconds (10-1000; the default 40 ms is a
            good trade between latency and message count).
        callback: called with each chunk (a mono int16 numpy array) on the
            microphone's worker thread. Exceptions are logged, not raised.
        client: a ``RealtimeClient``; each chunk goes to
            ``client.append_input_audio`` (on the worker thread).
        sample_rate: capture at this device rate (Hz); default: the format's
            rate if the device accepts it, else the device's default rate.
        on_error: called with an :class:`AudioDeviceError` (on the worker
            thread) if the device stops delivering audio while started.
        stall_timeout: seconds without audio from a started device before it
            is declared lost.

    Nothing is opened until :meth:`start`. ``with Microphone(...) as mic:``
    starts it and closes it on exit.
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        audio_format: str = "pcm16",
        chunk_ms: int = 40,
        callback: Optional[ChunkCallback] = None,
        client: Optional["RealtimeClient"] = None,
        sample_rate: Optional[int] = None,
        on_error: Optional[ErrorCallback] = None,
        stall_timeout: float = 2.0,
    ) -> None:
        self.rate = _audio.sample_rate(audio_format)
        if not isinstance(chunk_ms, (int, float)) or not 10 <= chunk_ms <= 1000:
            raise ConfigurationError(f"chunk_ms must be between 10 and 1000, not {chunk_ms!r}")
        self.device = device
        self.audio_format = audio_format
        self.chunk_ms = chunk_ms
        self.chunk_samples = max(1, int(round(self.rate * chunk_ms / 1000.0)))
        self.callback = callback
        self.client = client
        self.on_error = on_error
        self.stall_timeout = float(stall_timeout)
        self._wanted_rate = sample_rate
        #: The device actually used (a :func:`list_devices` dict), once started.
        self.device_info: Optional[Dict[str, Any]] = None
        #: The rate the device captures at (Hz), once started.
        self.device_rate: Optional[int] = None
        #: The error that stopped capture, if the device failed.
        self.error: Optional[BaseException] = None
        #: Number of PortAudio callbacks that reported an input overflow.
        self.overflows = 0
        self._lock = threading.Lock()
        self._pa: Any = None
        self._stream: Any = None
        # raw PortAudio buffers (20 ms each); bounded so a stalled worker cannot eat memory
        self._queue: "collections.deque[Any]" = collections.deque(maxlen=3000)
        self._cond = threading.Condition()
        self._worker: Optional[threading.Thread] = None
        self._resampler = _audio.Resampler(self.rate, self.rate)
        self._buffer: List[np.ndarray] = []
        self._buffered = 0
        self._last_audio = 0.0
        self._flushed = threading.Event()
        self._wedged = False
        self._running = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------

    def start(self) -> None:
        """Open the device (first time) and start capturing; no-op when already running.

        Raises:
            AudioUnavailableError: pyaudio/PortAudio missing.
            AudioDeviceError: no input device, device rejects the rate, or it cannot be opened.
        """
        with self._lock:
            if self._closed:
                raise ConfigurationError("this Microphone is closed; create a new one")
            if self._running:
                return
            if self._pa is None:
                self._pa = _portaudio.open_portaudio()
            try:
                if self._stream is None:
                    opened = _portaudio.open_stream(
                        self._pa, "input", self.device, self._wanted_rate, self.rate,
                        buffer_ms=20,  # per PortAudio callback
                        stream_callback=self._on_portaudio,
                        start=False,
                    )
                    self._stream = opened.stream
                    self.device_info, self.device_rate = opened.info, opened.rate
                    logger.info(
                        "microphone %r at %d Hz -> %s (%d Hz), %s ms chunks",
                        opened.info["name"], opened.rate, self.audio_format, self.rate, self.chunk_ms,
                    )
                assert self.device_rate is not None
                self.error = None
                self._resampler = _audio.Resampler(self.device_rate, self.rate)
                self._buffer = []
                self._buffered = 0
                self._last_audio = time.monotonic()
                with self._cond:
                    self._queue.clear()
                self._worker = threading.Thread(target=self._work, name="realtime-sync-mic", daemon=True)
                self._worker.start()
                try:
                    self._stream.start_stream()
                except (IOError, OSError) as exc:
                    self._post(_STOP)
                    self._worker.join(2.0)
                    raise AudioDeviceError(f"cannot start input device: {exc}") from exc
                self._running = True
            except BaseException:
                if not self._running:
                    self._release()
                raise

    def stop(self, timeout: Optional[float] = 5.0) -> None:
        """Stop capturing; the last partial chunk is still delivered. Idempotent.

        Args:
            timeout: seconds to wait for the device and the worker (None = forever).
        """
        with self._lock:
            if not self._running:
                return
            self._running = False
            stream = self._stream
            if stream is not None and not _portaudio.run_with_timeout(
                stream.stop_stream, 2.0 if timeout is None else timeout, "mic-stop"
            ):
                self._wedged = True
            self._post(_STOP)
            worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
            if worker.is_alive():
                logger.warning("microphone worker still running after %s s", timeout)

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop and release the device and PortAudio. Idempotent."""
        self.stop(timeout)
        with self._lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        if self._wedged:
            # PortAudio is stuck inside the dead device; closing would block as well
            logger.warning("input device did not stop; leaving its stream to the process exit")
            return
        _portaudio.release(stream, pa, "mic")

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`, unless the device failed (see :attr:`error`)."""
        return self._running and self.error is None

    def flush(self, timeout: Optional[float] = 1.0) -> bool:
        """Deliver the audio captured so far now, even if it is shorter than a chunk.

        Blocks the calling thread until the worker has delivered it (not to be
        called from the microphone's own callback). Returns False on timeout or
        when not running.
        """
        if not self._running or threading.current_thread() is self._worker:
            return False
        self._flushed.clear()
        self._post(_FLUSH)
        return self._flushed.wait(timeout)

    def __enter__(self) -> "Microphone":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._running else ("closed" if self._closed else "stopped")
        name = self.device_info["name"] if self.device_info else self.device
        return f"<Microphone {name!r} {self.audio_format} {self.chunk_ms} ms {state}>"

    # -- PortAudio thread ----------------------------------------------

    def _on_portaudio(
        self, in_data: Optional[bytes], frame_count: int, time_info: Any, status: int
    ) -> Tuple[None, int]:
        # Runs on PortAudio's audio thread: hand the bytes over and return at once.
        if status & 0x2:  # paInputOverflow
            self.overflows += 1
        if in_data:
            self._post(in_data)
        return (None, 0)  # paContinue

    def _post(self, item: Any) -> None:
        with self._cond:
            self._queue.append(item)
            self._cond.notify()

    # -- worker thread -------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(self.stall_timeout)
                item = self._queue.popleft() if self._queue else None
            if item is None:
                if self._running and self._device_lost():
                    return
                continue
            if item is _STOP:
                self._emit_partial()
                return
            if item is _FLUSH:
                self._emit_partial()
                self._flushed.set()
                continue
            self._last_audio = time.monotonic()
            samples = np.frombuffer(item, dtype="<i2").astype(np.int16, copy=False)
            self._add(self._resampler.process(samples))

    def _device_lost(self) -> bool:
        """Called when no audio came for ``stall_timeout`` seconds: report the device as lost."""
        idle = time.monotonic() - self._last_audio
        if idle < self.stall_timeout:
            return False
        error = AudioDeviceError(
            f"the input device stopped delivering audio ({idle:.1f} s without data); "
            "was it unplugged? Capture has stopped."
        )
        self.error = error
        logger.error("%s", error)
        self._emit_partial()
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                logger.exception("microphone on_error callback raised")
        return True

    def _add(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        self._buffer.append(samples)
        self._buffered += len(samples)
        if self._buffered < self.chunk_samples:
            return
        data = np.concatenate(self._buffer)
        n = self.chunk_samples
        whole = (len(data) // n) * n
        for start in range(0, whole, n):
            self._deliver(data[start:start + n])
        rest = data[whole:]
        self._buffer = [rest] if len(rest) else []
        self._buffered = len(rest)

    def _emit_partial(self) -> None:
        tail = self._resampler.flush()
        parts = self._buffer + ([tail] if len(tail) else [])
        self._buffer, self._buffered = [], 0
        if parts:
            data = np.concatenate(parts)
            if len(data):
                self._deliver(data)

    def _deliver(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=np.int16)
        callback, client = self.callback, self.client
        if callback is not None:
            try:
                callback(chunk)
            except Exception:
                logger.exception("microphone callback raised")
        if client is not None:
            try:
                client.append_input_audio(chunk)
            except Exception as exc:
                logger.warning("microphone chunk not sent: %s", exc)
