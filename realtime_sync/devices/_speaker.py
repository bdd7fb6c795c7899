"""Speaker: play assistant audio on an output device, counting per item what was played (private).

The public name is :class:`realtime_sync.devices.Speaker`; the package
docstring describes its thread and what "played" means. :meth:`Speaker.play`
only queues; the thread ``realtime-sync-speaker`` resamples to the device rate
and is the only writer of the blocking PortAudio stream.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Deque, Dict, Optional, Tuple

import numpy as np

from .. import audio as _audio
from ..errors import AudioDeviceError, ConfigurationError
from . import _portaudio
from ._portaudio import DeviceSpec

__all__ = ["Speaker"]

logger = logging.getLogger(__name__)


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
    :mod:`realtime_sync.devices` docstring for what "played" means.
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        audio_format: str = "pcm16",
        sample_rate: Optional[int] = None,
        chunk_ms: int = 20,
    ) -> None:
        self.rate = _audio.sample_rate(audio_format)
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
