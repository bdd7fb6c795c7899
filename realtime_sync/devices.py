"""Microphone, speaker and a voice-chat helper over pyaudio (the ``audio`` extra).

Install with ``pip install 'realtime_sync[audio]'``; pyaudio needs the PortAudio
library (``apt-get install portaudio19-dev`` on Debian/Ubuntu, ``brew install
portaudio`` on macOS). Importing this module does not import pyaudio: the
first object that needs a sound device does, and a missing pyaudio or
PortAudio raises :class:`AudioUnavailableError` saying what to install.

Threads:

- :class:`Microphone` opens a pyaudio input stream in callback mode. PortAudio
  calls our callback on its own audio thread; the callback only puts the raw
  bytes on a queue. A worker thread of ours (``realtime-sync-mic``) converts
  them to mono int16, resamples them from the device rate to the rate of the
  session's input format (24 kHz for ``pcm16``, 8 kHz for G.711), cuts them
  into chunks of ``chunk_ms`` and hands each chunk to ``callback`` and/or
  ``client.append_input_audio``.
- :class:`Speaker` opens a blocking pyaudio output stream that only its own
  thread (``realtime-sync-speaker``) writes to. :meth:`Speaker.play` just puts
  the samples on a queue, so it is safe to call from the socket thread.
- :class:`VoiceChat` wires both to a :class:`~realtime_sync.client.RealtimeClient`:
  server VAD (or push-to-talk), assistant audio to the speaker, and barge-in
  that truncates the interrupted item where the listener stopped hearing it.

What "played" means. The speaker counts, per item, the samples it has handed
to the device (in the item's own units: 24 kHz samples for ``pcm16``, 8 kHz
samples for G.711, i.e. the server's units, never the device rate). pyaudio
offers no way to discard what the device already holds, so audio handed to
the device is heard even after :meth:`Speaker.interrupt`; at most the output
latency (:attr:`Speaker.output_latency`, typically 10-50 ms) is still in the
device's buffer at any moment, and it plays out right after the interruption.
Counting handed-over samples therefore names the point where the listener
stops hearing the item, within one output latency plus one chunk.

Layout: :func:`list_devices`, :class:`Microphone` and :class:`Speaker` live
here; the PortAudio plumbing (loading pyaudio, quiet start-up, device lookup,
rate choice, opening and releasing streams) is in the private ``_portaudio``
module and :class:`VoiceChat` in the private ``_voice`` module. Import every
public name from ``realtime_sync.devices``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from . import _portaudio
from . import audio as _audio
from ._portaudio import DeviceSpec
from ._voice import VoiceChat
from .errors import AudioDeviceError, AudioUnavailableError, ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from .client import RealtimeClient

__all__ = [
    "AudioUnavailableError",
    "AudioDeviceError",
    "list_devices",
    "Microphone",
    "Speaker",
    "VoiceChat",
]

logger = logging.getLogger(__name__)

#: A microphone chunk callback: receives one mono int16 numpy array at the
#: input format's rate (24 kHz for pcm16, 8 kHz for G.711).
ChunkCallback = Callable[[np.ndarray], Any]
#: Called with the exception when a device fails while streaming.
ErrorCallback = Callable[[BaseException], Any]


# ---------------------------------------------------------------------------
# Devices and arguments


def list_devices() -> List[Dict[str, Any]]:
    """List the sound devices PortAudio sees.

    Returns:
        One dict per device: ``index``, ``name``, ``max_input_channels``,
        ``max_output_channels``, ``default_sample_rate`` (Hz, float),
        ``host_api`` (for example ``"ALSA"``), and ``default_input`` /
        ``default_output`` (bool: the system default for that direction).

    Raises:
        AudioUnavailableError: pyaudio or PortAudio is missing.
    """
    pa = _portaudio.open_portaudio()
    try:
        devices = _portaudio.device_list(pa)
        default_in = _portaudio.default_index(pa, "input")
        default_out = _portaudio.default_index(pa, "output")
    finally:
        pa.terminate()
    for device in devices:
        device["default_input"] = device["index"] == default_in
        device["default_output"] = device["index"] == default_out
    return devices


def _format_rate(audio_format: str) -> int:
    if audio_format not in _audio.AUDIO_FORMATS:
        raise ConfigurationError(
            f"unknown audio format {audio_format!r}; expected one of {', '.join(_audio.AUDIO_FORMATS)}"
        )
    return _audio.sample_rate(audio_format)


# ---------------------------------------------------------------------------
# Microphone


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
        self.rate = _format_rate(audio_format)
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


# ---------------------------------------------------------------------------
# Speaker


class _Block:
    __slots__ = ("item_id", "samples", "generation")

    def __init__(self, item_id: str, samples: np.ndarray, generation: int) -> None:
        self.item_id = item_id
        self.samples = samples
        self.generation = generation


class Speaker:
    """Play assistant audio on an output device, counting per item what was played.

    Args:
        device: device index, a case-insensitive part of its name, or None for
            the system default output.
        audio_format: the session's ``output_audio_format``; :meth:`play`
            takes int16 samples at its rate (24 kHz for ``pcm16``, 8 kHz for G.711).
        sample_rate: device rate in Hz; default: the format's rate if the
            device accepts it, else its default rate.
        chunk_ms: how much audio the speaker thread writes per call; it bounds
            how late :meth:`interrupt` takes effect (default 20 ms).

    The device opens on :meth:`start` or on the first :meth:`play`. See the
    module docstring for what "played" means.
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        audio_format: str = "pcm16",
        sample_rate: Optional[int] = None,
        chunk_ms: int = 20,
    ) -> None:
        self.rate = _format_rate(audio_format)
        if not isinstance(chunk_ms, (int, float)) or not 5 <= chunk_ms <= 500:
            raise ConfigurationError(f"chunk_ms must be between 5 and 500, not {chunk_ms!r}")
        self.device = device
        self.audio_format = audio_format
        self.chunk_ms = chunk_ms
        self._wanted_rate = sample_rate
        #: The device used (a :func:`list_devices` dict), once open.
        self.device_info: Optional[Dict[str, Any]] = None
        #: The device rate (Hz), once open.
        self.device_rate: Optional[int] = None
        #: The device's reported output latency in seconds, once open.
        self.output_latency: float = 0.0
        #: The error that stopped playback, if the device failed.
        self.error: Optional[BaseException] = None
        self._lock = threading.Lock()  # open/close
        self._cond = threading.Condition()  # queue and counters
        self._queue: Deque[_Block] = collections.deque()
        self._generation = 0
        self._played: "collections.OrderedDict[str, int]" = collections.OrderedDict()
        self._queued: Dict[str, int] = {}
        self._sounding: Optional[str] = None  # item of the last piece handed to the device
        self._cut: "collections.OrderedDict[str, None]" = collections.OrderedDict()
        self._inflight: Optional[Tuple[str, int]] = None
        self._chunk_frames = 1
        self._writing = False
        self._tail_pending = False  # the resampler holds the end of an item's audio
        self._last_write = 0.0
        self._pa: Any = None
        self._stream: Any = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------

    def start(self) -> None:
        """Open the output device and start the speaker thread; no-op when open.

        Raises:
            AudioUnavailableError: pyaudio/PortAudio missing.
            AudioDeviceError: no output device, the rate is rejected, or it cannot be opened.
        """
        with self._lock:
            if self._closed:
                raise ConfigurationError("this Speaker is closed; create a new one")
            if self._thread is not None:
                return
            try:
                if self._pa is None:
                    self._pa = _portaudio.open_portaudio()
                opened = _portaudio.open_stream(
                    self._pa, "output", self.device, self._wanted_rate, self.rate, buffer_ms=self.chunk_ms
                )
                self._stream = opened.stream
                try:
                    self.output_latency = float(self._stream.get_output_latency())
                except (IOError, OSError):
                    self.output_latency = 0.0
            except BaseException:
                self._release()
                raise
            self.device_info, self.device_rate = opened.info, opened.rate
            self._chunk_frames = opened.frames
            self.error = None
            self._stopping = False
            logger.info(
                "speaker %r at %d Hz <- %s (%d Hz), output latency %.1f ms",
                opened.info["name"], opened.rate, self.audio_format, self.rate, self.output_latency * 1000,
            )
            self._thread = threading.Thread(target=self._run, name="realtime-sync-speaker", daemon=True)
            self._thread.start()

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Drop queued audio, stop the speaker thread and release the device. Idempotent."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            with self._cond:
                self._stopping = True
                self._generation += 1
                self._queue.clear()
                self._tail_pending = False
                self._cond.notify_all()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    logger.warning("speaker thread still writing after %s s; leaving the device open", timeout)
                    return
            self._release()

    def _release(self) -> None:
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        _portaudio.release(stream, pa, "speaker")

    def __enter__(self) -> "Speaker":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        name = self.device_info["name"] if self.device_info else self.device
        return f"<Speaker {name!r} {self.audio_format} {'closed' if self._closed else 'open'}>"

    # -- any thread ----------------------------------------------------

    def play(self, item_id: str, samples: Any) -> None:
        """Queue audio of ``item_id`` for playback and return at once (safe on the socket thread).

        Args:
            item_id: the conversation item the audio belongs to.
            samples: mono int16 at the output format's rate (or anything
                :func:`realtime_sync.audio.to_pcm16` accepts).

        Raises:
            AudioDeviceError: the device failed earlier (see :attr:`error`).
        """
        if self.error is not None:
            raise AudioDeviceError(f"the output device failed: {self.error}")
        if self._thread is None:
            self.start()
        data = _audio.to_pcm16(samples)
        if len(data) == 0:
            return
        with self._cond:
            if item_id in self._cut:
                return  # the rest of an interrupted item, still streaming in
            self._queued[item_id] = self._queued.get(item_id, 0) + len(data)
            self._played.setdefault(item_id, 0)
            while len(self._played) > 256:
                old, _ = self._played.popitem(last=False)
                self._queued.pop(old, None)
            self._queue.append(_Block(item_id, data, self._generation))
            self._cond.notify_all()

    def samples_played(self, item_id: str) -> int:
        """Samples of ``item_id`` handed to the device so far, in the item's units (0 if unknown)."""
        with self._cond:
            return self._played.get(item_id, 0)

    def is_playing(self) -> bool:
        """True while audio is queued, being written, or still sounding in the device buffer."""
        with self._cond:
            return self._busy()

    def _busy(self) -> bool:
        return bool(self._queue) or self._writing or self._tail_pending or self._recently_written()

    def _recently_written(self) -> bool:
        # what was handed to the device sounds for up to one output latency
        return time.monotonic() - self._last_write < self.output_latency

    def resume(self, item_id: str) -> None:
        """Accept audio for ``item_id`` again after :meth:`interrupt` cut it off."""
        with self._cond:
            self._cut.pop(item_id, None)

    def interrupt(self) -> Optional[Tuple[str, int]]:
        """Stop playback now: drop everything queued and report where it stopped.

        Safe from any thread, including the socket thread: it does not wait for
        the device. The chunk being written when it is called (at most
        ``chunk_ms``) and the device buffer (at most :attr:`output_latency`)
        still sound, and are counted as played.

        Audio that arrives later for the interrupted item (the server keeps
        streaming until the cancel reaches it) is ignored; see :meth:`resume`.

        Returns:
            ``(item_id, samples_played)`` for the item that was playing
            (samples in the item's units), or None if nothing was playing.
        """
        with self._cond:
            busy = self._busy()
            if self._inflight is not None:
                current: Optional[str] = self._inflight[0]
            elif self._sounding is not None and (self._writing or self._recently_written()):
                current = self._sounding
            elif self._queue:
                current = self._queue[0].item_id
            else:
                current = None
            self._generation += 1
            self._queue.clear()
            self._tail_pending = False
            self._cond.notify_all()
            if not busy or current is None:
                return None
            self._cut[current] = None
            while len(self._cut) > 64:
                self._cut.popitem(last=False)
            played = self._played.get(current, 0)
            if self._inflight is not None and self._inflight[0] == current:
                played += self._inflight[1]
            self._played[current] = played
            return (current, played)

    def wait_until_done(self, timeout: Optional[float] = None) -> bool:
        """Block until everything queued has been handed to the device.

        Args:
            timeout: seconds (None = forever).

        Returns:
            True when drained, False on timeout.

        Raises:
            AudioDeviceError: the device failed while playing.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._writing or self._tail_pending:
                if self.error is not None:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            if self.error is not None:
                raise AudioDeviceError(f"the output device failed: {self.error}")
            return True

    # -- speaker thread ------------------------------------------------

    #: Seconds the speaker thread waits for more audio of an item before it
    #: plays the resampler's last few milliseconds (the end of the item).
    TAIL_WAIT = 0.1

    def _run(self) -> None:
        assert self.device_rate is not None
        resampler: Optional[_audio.Resampler] = None
        current: Optional[Tuple[str, int]] = None  # (item, generation) the resampler belongs to
        device_frames: Dict[str, int] = {}
        while True:
            with self._cond:
                if not self._queue and not self._stopping and self._tail_pending:
                    self._cond.wait(self.TAIL_WAIT)  # more of the item may be on its way
                ending = not self._queue and self._tail_pending
                while not self._queue and not self._stopping and not ending:
                    self._cond.wait()
                if self._stopping:
                    return
                self._tail_pending = False
                if ending:
                    assert current is not None
                    block = _Block(current[0], np.zeros(0, dtype=np.int16), current[1])
                else:
                    block = self._queue.popleft()
                self._writing = True
            try:
                frames = np.zeros(0, dtype=np.int16)
                if current != (block.item_id, block.generation):
                    # a new item (or the same one after an interruption): start a new stream;
                    # the previous item's resampler tail, if any, goes out first
                    if resampler is not None and current is not None and current[1] == block.generation:
                        tail = resampler.flush()
                        if len(tail) and not self._write(_Block(current[0], tail, current[1]), tail, device_frames):
                            return
                    resampler = _audio.Resampler(self.rate, self.device_rate)
                    current = (block.item_id, block.generation)
                    device_frames.clear()
                    device_frames[block.item_id] = 0
                assert resampler is not None
                if ending:
                    frames = resampler.flush()
                else:
                    frames = resampler.process(block.samples)
                    if self.rate != self.device_rate:
                        with self._cond:
                            self._tail_pending = True
                if len(frames) and not self._write(block, frames, device_frames):
                    return
            finally:
                with self._cond:
                    self._writing = False
                    self._inflight = None
                    self._cond.notify_all()

    def _write(self, block: _Block, frames: np.ndarray, device_frames: Dict[str, int]) -> bool:
        """Write one block's frames in chunks; returns False when the thread must end."""
        assert self.device_rate is not None
        step = self._chunk_frames
        item = block.item_id
        for start in range(0, len(frames), step):
            piece = frames[start:start + step]
            with self._cond:
                if self._stopping or block.generation != self._generation:
                    return not self._stopping
                before = device_frames[item]
                after = before + len(piece)
                # item samples this piece completes, from cumulative counts (no drift)
                done_before = self._to_item(before)
                done_after = min(self._to_item(after), self._queued.get(item, 0))
                self._inflight = (item, max(0, done_after - done_before))
            try:
                self._stream.write(piece.tobytes())
            except Exception as exc:  # pyaudio raises OSError/IOError when the device goes away
                error = AudioDeviceError(f"writing to the output device failed: {exc}")
                logger.error("%s; playback stopped", error)
                with self._cond:
                    self.error = error
                    self._queue.clear()
                    self._tail_pending = False
                    self._inflight = None
                    self._cond.notify_all()
                return False
            with self._cond:
                device_frames[item] = after
                self._last_write = time.monotonic()
                self._sounding = item
                if block.generation == self._generation:
                    self._played[item] = max(self._played.get(item, 0), done_after)
                self._inflight = None
        return True

    def _to_item(self, device_frames: int) -> int:
        assert self.device_rate is not None
        return int(round(device_frames * self.rate / self.device_rate))
