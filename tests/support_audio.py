"""A sound card made of files, for testing the devices through real PortAudio.

The card is an ALSA configuration (``~/.asoundrc`` in a temporary HOME)
whose default PCM is an ``asym`` device:

- playback: ``plug`` -> ``file`` plugin writing raw S16_LE mono at
  :data:`CARD_RATE` into a FIFO, ``null`` slave;
- capture: ``plug`` -> ``file`` plugin reading raw S16_LE mono from a FIFO
  (``infile``), ``null`` slave.

The ``null`` PCM keeps no time: it accepts and produces audio as fast as it
is asked. FIFOs give the card a clock: a feeder thread writes the capture
stream at the card's rate (silence unless :meth:`FakeSoundCard.say` queued
audio), and a drain thread reads the playback stream at the card's rate,
keeping everything it read.

One trap: the ``file`` plugin fills each capture read with a single
``read()`` of the FIFO and leaves the rest of the buffer stale when the read
comes back short. The feeder therefore writes blocks of exactly one period
(20 ms at the card rate, what :class:`Microphone`'s 20 ms PortAudio buffers
become after ``plug``), so every read returns one whole block. ``plug``
converts any rate the application opens to the card's rate, so PortAudio sees
a device that takes any rate.

The playback clock does not catch up: when the drain falls behind (nothing to
play, or its thread was not scheduled), it goes on at the card's rate from
then, as a sound card does, instead of reading a burst to make up the time.

ALSA reads its configuration once per process and PortAudio probes every
device when it starts, so each scenario runs in its own Python process:
:func:`run_scenario` starts ``python support_audio.py <scenario> <dir> <json>``
with HOME pointing at the card, and returns the JSON the scenario printed.
The scenario functions at the end of this file are that child side; the
assertions live in ``test_devices.py``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

import numpy as np

__all__ = [
    "CARD_RATE",
    "FakeSoundCard",
    "run_scenario",
    "load",
    "tone",
    "silence",
    "align",
    "dominant_frequency",
    "active_span",
]

#: The fake card's own sample rate (Hz).
CARD_RATE = 48000
#: Feeder/drain block: 20 ms of card audio (see FakeSoundCard: must match the reads).
_BLOCK = CARD_RATE // 50
_F_SETPIPE_SZ = 1031  # Linux fcntl: shrink the FIFO buffer so the card's clock is tight

_ASOUNDRC = """\
# realtime_sync test sound card: files instead of hardware
pcm.!default {{
    type asym
    playback.pcm {{
        type plug
        slave {{
            pcm {{ type file file "{playback}" format raw slave.pcm "null" }}
            format S16_LE
            rate {rate}
            channels 1
        }}
    }}
    capture.pcm {{
        type plug
        slave {{
            pcm {{ type file file "/dev/null" infile "{capture}" format raw slave.pcm "null" }}
            format S16_LE
            rate {rate}
            channels 1
        }}
    }}
}}
"""


def tone(freq: float, seconds: float, rate: int = CARD_RATE, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone as int16 (5 ms fade in/out so its edges do not click)."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    signal = amplitude * np.sin(2 * np.pi * freq * t)
    ramp = min(n // 2, rate // 200)
    if ramp:
        signal[:ramp] *= np.linspace(0, 1, ramp)
        signal[-ramp:] *= np.linspace(1, 0, ramp)
    return np.round(signal * 32767).astype(np.int16)


def silence(seconds: float, rate: int = CARD_RATE) -> np.ndarray:
    """Zeros as int16."""
    return np.zeros(int(round(seconds * rate)), dtype=np.int16)


def active_span(
    samples: np.ndarray, rate: int, threshold: float = 0.05, frame_ms: int = 5
) -> Optional[Tuple[int, int]]:
    """(start, end) sample indices of the region whose frame RMS exceeds ``threshold`` of full scale."""
    frame = max(1, rate * frame_ms // 1000)
    n = len(samples) // frame
    if n == 0:
        return None
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    loud = np.nonzero(np.sqrt((x ** 2).mean(axis=1)) > threshold)[0]
    if len(loud) == 0:
        return None
    return int(loud[0] * frame), int((loud[-1] + 1) * frame)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency (Hz) of ``samples``, interpolated between FFT bins."""
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    k = int(np.argmax(spectrum[1:])) + 1
    if 1 <= k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1: k + 2] + 1e-12)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)
    return float(k * rate / len(samples))


def align(recording: np.ndarray, reference: np.ndarray) -> Tuple[int, float]:
    """Find where ``reference`` starts in ``recording`` (same rate).

    Returns ``(offset, score)``: the lag of the largest cross-correlation, and
    the normalised correlation (1.0 = identical) of ``reference`` with the
    recording from that lag on, over their overlap.
    """
    rec = recording.astype(np.float64)
    ref = reference.astype(np.float64)
    n = len(rec) + len(ref)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(ref, size)), size)
    offset = int(np.argmax(corr[: max(1, len(rec))]))
    overlap = min(len(ref), len(rec) - offset)
    a, b = rec[offset: offset + overlap], ref[:overlap]
    norm = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return offset, (float(np.dot(a, b)) / norm if norm > 0 else 0.0)


class FakeSoundCard:
    """The file-backed ALSA card, with its feeder and drain threads.

    Create it before PortAudio starts in this process: the constructor writes
    the configuration and points HOME at it.

    Args:
        directory: where the HOME, FIFOs and recordings go.
        speed: the card's clock relative to real time (1.0 = real time).
        set_home: point this process's HOME at the card; pass False when
            another process (started with ``HOME=card.home``) uses it.
        capture: False makes a playback-only card (no input device at all).
    """

    def __init__(self, directory: Path, *, speed: float = 1.0, set_home: bool = True, capture: bool = True) -> None:
        self.directory = Path(directory)
        self.home = self.directory / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.capture_fifo = self.directory / "capture.fifo"
        self.playback_fifo = self.directory / "playback.fifo"
        for fifo in (self.capture_fifo, self.playback_fifo):
            if not fifo.exists():
                os.mkfifo(fifo)
        config = _ASOUNDRC.format(playback=self.playback_fifo, capture=self.capture_fifo, rate=CARD_RATE)
        if not capture:  # drop the capture.pcm block: the default device has no input channels
            config = config[: config.index("    capture.pcm")] + "}\n"
        (self.home / ".asoundrc").write_text(config)
        if set_home:  # this process will use the card (a child gets HOME=card.home instead)
            os.environ["HOME"] = str(self.home)
        self.speed = float(speed)
        self._cond = threading.Condition()
        self._script: Deque[np.ndarray] = deque()
        self._said_pending = 0
        self._played: List[bytes] = []
        self._played_bytes = 0
        self._last_read = time.monotonic()
        self._stopping = False
        self._capture_frozen = False
        self._playback_unplugged = False
        self._playback_held = False
        self._playback_closes = 0  # times the device's writer closed the playback FIFO (EOF)
        self._threads: List[threading.Thread] = []
        # Once the device has opened a FIFO, the card keeps its own end open too (see _keep_open).
        self._keepers: Dict[Path, int] = {}

    # -- control (test side) --------------------------------------------

    def start(self) -> None:
        for target, name in ((self._feed, "fake-card-capture"), (self._drain, "fake-card-playback")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        # release threads blocked opening a FIFO that nobody opened from the other end
        for path, flags in (
            (self.capture_fifo, os.O_RDONLY | os.O_NONBLOCK),
            (self.playback_fifo, os.O_WRONLY | os.O_NONBLOCK),
        ):
            try:
                os.close(os.open(path, flags))
            except OSError:
                pass
        for thread in self._threads:
            thread.join(2.0)
        with self._cond:
            keepers, self._keepers = self._keepers, {}
        for fd in keepers.values():
            os.close(fd)

    def freeze_capture(self) -> None:
        """Stop the capture clock with the FIFO still open: reads block, as on a dead device."""
        with self._cond:
            self._capture_frozen = True

    def unplug_playback(self) -> None:
        """Close the playback FIFO for good: the device's writes fail from now on."""
        with self._cond:
            self._playback_unplugged = True
            kept = self._keepers.pop(self.playback_fifo, None)
            self._cond.notify_all()
        if kept is not None:
            os.close(kept)  # the card's own reader would keep the device's writes from failing

    def hold_playback(self) -> None:
        """Stop consuming playback audio (the FIFO stays open): the device's buffer fills and writes block."""
        with self._cond:
            self._playback_held = True

    def release_playback(self) -> None:
        """Consume playback audio again after :meth:`hold_playback`, at the card's rate from now on."""
        with self._cond:
            self._playback_held = False
            self._cond.notify_all()

    def say(self, samples: np.ndarray) -> None:
        """Queue int16 audio at :data:`CARD_RATE` into the capture stream (after what is queued)."""
        data = np.asarray(samples, dtype=np.int16)
        with self._cond:
            self._script.append(data)
            self._said_pending += len(data)

    def wait_said(self, timeout: float = 10.0) -> bool:
        """Block until everything queued with :meth:`say` went into the capture FIFO."""
        with self._cond:
            return self._cond.wait_for(lambda: self._said_pending == 0, timeout)

    def played(self) -> np.ndarray:
        """Everything the playback device has consumed so far, int16 at :data:`CARD_RATE`."""
        with self._cond:
            data = b"".join(self._played)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)

    def played_frames(self) -> int:
        with self._cond:
            return self._played_bytes // 2

    def wait_played(self, predicate: Callable[[np.ndarray], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(played())`` holds (re-checked whenever the drain reads)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                data = b"".join(self._played)
                if predicate(np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def playback_closes(self) -> int:
        """How many times the playback device was closed so far (PortAudio's probes count too)."""
        with self._cond:
            return self._playback_closes

    def wait_playback_closed(self, since: int, timeout: float = 10.0) -> bool:
        """Block until the playback device closes after :meth:`playback_closes` returned ``since``.

        Everything written before the close has then been read: the drain reads
        the FIFO to its end before it counts the close.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._playback_closes > since, timeout)

    def wait_playback_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> bool:
        """Block until the playback device has read nothing for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                idle = time.monotonic() - self._last_read
                if idle >= quiet:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, quiet - idle))

    # -- the card's clock (its own threads) ---------------------------------

    def _next_block(self) -> np.ndarray:
        with self._cond:
            out = []
            need = _BLOCK
            while need and self._script:
                head = self._script[0]
                take = head[:need]
                out.append(take)
                need -= len(take)
                if len(take) == len(head):
                    self._script.popleft()
                else:
                    self._script[0] = head[len(take):]
                self._said_pending -= len(take)
            if need:
                out.append(np.zeros(need, dtype=np.int16))
            if self._said_pending == 0:
                self._cond.notify_all()
        return np.concatenate(out)

    @staticmethod
    def _open_fifo(path: Path, flags: int) -> Optional[int]:
        """Open one end of a device FIFO (blocks until ALSA opens the other).

        Returns None when it cannot be opened (the card is stopping).
        """
        try:
            return os.open(path, flags)
        except OSError:
            return None

    def _keep_open(self, path: Path, flags: int) -> None:
        """Hold one more end of a device FIFO open, for the card's life, once the device has the other.

        PortAudio opens and closes the device while probing it (``is_format_supported``) without
        letting go of the interpreter lock, and opening a FIFO waits for its other end: if the feeder
        or drain thread had just closed its end after a probe, the next probe's open would wait for
        a thread that needs that lock to open it again. A second end the card keeps (a writer for
        capture, a reader for playback) answers every later open at once; end-of-file and broken
        pipes still come as before (the kept capture end reads nothing, the kept playback end
        writes nothing).
        """
        if path in self._keepers or (path == self.playback_fifo and self._playback_unplugged):
            return
        try:
            fd = os.open(path, flags | os.O_NONBLOCK)  # the device holds its end now: this does not fail
        except OSError:
            return  # it has closed again already: kept at the next opening
        with self._cond:
            if self._stopping or (path == self.playback_fifo and self._playback_unplugged):
                os.close(fd)
            else:
                self._keepers[path] = fd

    @staticmethod
    def _shrink(fd: int) -> bool:
        """Make the FIFO's buffer one page, so the card's clock is tight; False if it cannot be yet.

        Linux refuses (EBUSY) while the pipe holds more than the new size.
        """
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, 4096)
        except OSError:
            return False
        return True

    def _feed(self) -> None:
        period = _BLOCK / CARD_RATE / self.speed
        while not self._stopping:
            fd = self._open_fifo(self.capture_fifo, os.O_WRONLY)
            if fd is None:
                return
            self._keep_open(self.capture_fifo, os.O_WRONLY)
            self._shrink(fd)  # nothing written yet: it cannot fail for want of room
            opened = next_time = time.monotonic()
            try:
                while not self._stopping:
                    if self._capture_frozen:
                        with self._cond:
                            self._cond.wait_for(lambda: self._stopping)
                        break
                    # PortAudio probes open and close the device: until a reader stays,
                    # write silence only, so queued speech is not lost with a probe
                    block = self._next_block() if time.monotonic() - opened > 0.05 else np.zeros(_BLOCK, np.int16)
                    os.write(fd, block.astype("<i2").tobytes())
                    next_time += period
                    delay = next_time - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)  # the fake hardware clock
            except BrokenPipeError:
                pass
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
            finally:
                os.close(fd)

    def _drain(self) -> None:
        block_bytes = _BLOCK * 2
        while not self._stopping and not self._playback_unplugged:
            fd = self._open_fifo(self.playback_fifo, os.O_RDONLY)
            if fd is None:
                return
            self._keep_open(self.playback_fifo, os.O_RDONLY)
            # The device starts writing (PortAudio's prefill) as soon as it opens, and Linux will not
            # shrink a pipe holding more than the new size: take what is there, then shrink it.
            while not self._shrink(fd):
                data = os.read(fd, 1 << 16)  # does not block: the pipe holds more than a page
                if not data:
                    break
                self._record(data)
            start = time.monotonic()
            consumed = 0
            try:
                while not self._stopping and not self._playback_unplugged:
                    data = os.read(fd, block_bytes)
                    if not data:
                        with self._cond:
                            self._playback_closes += 1
                            self._cond.notify_all()
                        break
                    self._record(data)
                    if self._playback_held:
                        with self._cond:
                            self._cond.wait_for(lambda: not self._playback_held or self._stopping)
                        start = time.monotonic() - consumed / CARD_RATE / self.speed  # the clock resumes
                    consumed += len(data) // 2
                    delay = start + consumed / CARD_RATE / self.speed - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)  # the fake hardware clock
                    elif delay < -_BLOCK / CARD_RATE / self.speed:
                        # Late: the device had nothing to play (or this thread was not scheduled). A
                        # sound card does not bank that time to play faster later: no catching up.
                        start -= delay
            finally:
                os.close(fd)

    def _record(self, data: bytes) -> None:
        with self._cond:
            self._played.append(data)
            self._played_bytes += len(data)
            self._last_read = time.monotonic()
            self._cond.notify_all()


# ---------------------------------------------------------------------------
# running scenarios in a child process


def run_scenario(name: str, directory: Path, timeout: float = 60.0, **params: Any) -> Dict[str, Any]:
    """Run ``scenario_<name>`` in a child Python with the fake card; return its JSON result.

    Raises:
        AssertionError: the child failed (its stderr tail is in the message).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["HOME"] = str(directory / "home")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["SCENARIO_DUMP_AFTER"] = str(max(timeout - 5.0, 1.0))  # a hung child prints its threads' stacks first
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), name, str(directory), json.dumps(params)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise AssertionError(f"scenario {name} hung for {timeout:g} s; its threads then:\n{stderr[-6000:]}") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"scenario {name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
        )
    return json.loads(lines[-1][len("RESULT "):])


def _save(directory: Path, name: str, samples: np.ndarray) -> None:
    np.asarray(samples, dtype="<i2").tofile(str(directory / name))


def load(directory: Path, name: str) -> np.ndarray:
    """Read back int16 audio a scenario saved."""
    return np.fromfile(str(Path(directory) / name), dtype="<i2").astype(np.int16)


# -- child side -----------------------------------------------------------------


def scenario_devices(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """What list_devices() shows and how bad device requests fail."""
    from realtime_sync import devices

    result: Dict[str, Any] = {"devices": devices.list_devices(), "errors": {}}

    def failure(make: Callable[[], Any]) -> Optional[List[Any]]:
        started = time.monotonic()
        try:
            obj = make()
            obj.start()
        except Exception as exc:  # what we are checking
            return [type(exc).__name__, str(exc), [c.__name__ for c in type(exc).__mro__], time.monotonic() - started]
        obj.close()
        return None

    result["errors"]["mic_name"] = failure(lambda: devices.Microphone("no-such-microphone"))
    result["errors"]["mic_rate"] = failure(lambda: devices.Microphone(sample_rate=1_000_000))
    result["errors"]["speaker_index"] = failure(lambda: devices.Speaker(999))
    result["errors"]["mic_by_name"] = failure(lambda: devices.Microphone("DEFAULT"))
    return result


def _record_device_input(mic: Any) -> List[bytes]:
    """Keep what PortAudio hands ``mic`` (before any of our processing); call before ``mic.start()``."""
    device_input: List[bytes] = []
    on_portaudio = mic._on_portaudio

    def recording_callback(in_data: Optional[bytes], *args: Any) -> Any:
        if in_data:
            device_input.append(bytes(in_data))
        return on_portaudio(in_data, *args)

    mic._on_portaudio = recording_callback
    return device_input


def scenario_capture(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Capture a tone through a Microphone and save what its callback received."""
    from realtime_sync import devices

    chunks: List[np.ndarray] = []
    threads = set()

    def on_chunk(chunk: np.ndarray) -> None:
        threads.add(threading.current_thread().name)
        chunks.append(chunk.copy())

    mic = devices.Microphone(
        audio_format=params["audio_format"],
        chunk_ms=params["chunk_ms"],
        callback=on_chunk,
        sample_rate=params.get("device_rate"),
    )
    device_input = _record_device_input(mic)
    mic.start()
    card.say(np.concatenate([silence(0.1), tone(params["freq"], params["seconds"]), silence(params.get("tail", 0.3))]))
    said = card.wait_said(20)
    mic.stop()
    mic.close()
    _save(directory, "captured.raw", np.concatenate(chunks) if chunks else np.zeros(0, np.int16))
    _save(directory, "device_input.raw", np.frombuffer(b"".join(device_input), dtype="<i2"))
    return {
        "said": said,
        "rate": mic.rate,
        "chunk_samples": mic.chunk_samples,
        "device_rate": mic.device_rate,
        "device_name": mic.device_info["name"] if mic.device_info else None,
        "chunk_lengths": [len(c) for c in chunks],
        "dtypes": sorted({str(c.dtype) for c in chunks}),
        "threads": sorted(threads),
        "overflows": mic.overflows,
    }


def scenario_unplug(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Devices that die mid-stream are reported, and stop()/close() still return."""
    from realtime_sync import devices

    result: Dict[str, Any] = {}
    errors: List[BaseException] = []
    got_error = threading.Event()
    chunks: List[int] = []

    def on_error(exc: BaseException) -> None:
        errors.append(exc)
        got_error.set()

    mic = devices.Microphone(callback=lambda c: chunks.append(len(c)), on_error=on_error, stall_timeout=0.5)
    mic.start()
    card.say(tone(440, 0.2))
    card.wait_said(5)
    card.freeze_capture()
    frozen_at = time.monotonic()
    result["mic_error_reported"] = got_error.wait(10)
    result["mic_error_after"] = time.monotonic() - frozen_at
    result["mic_error"] = [type(errors[0]).__name__, str(errors[0])] if errors else None
    result["mic_running_after_error"] = mic.running
    started = time.monotonic()
    mic.close(timeout=1.0)
    result["mic_close_seconds"] = time.monotonic() - started
    result["mic_chunks"] = len(chunks)

    speaker = devices.Speaker()
    speaker.start()
    speaker.play("item_a", tone(300, 3.0, rate=24000))
    card.wait_played(lambda played: len(played) >= CARD_RATE // 2, 10)
    card.unplug_playback()
    started = time.monotonic()
    try:
        done = speaker.wait_until_done(10)
        result["speaker_wait"] = ["returned", done]
    except Exception as exc:  # what we are checking
        result["speaker_wait"] = [type(exc).__name__, str(exc)]
    result["speaker_wait_seconds"] = time.monotonic() - started
    result["speaker_error"] = repr(speaker.error)
    try:
        speaker.play("item_a", tone(300, 0.1, rate=24000))
        result["play_after_error"] = "accepted"
    except Exception as exc:  # what we are checking
        result["play_after_error"] = type(exc).__name__
    started = time.monotonic()
    speaker.close(timeout=1.0)
    result["speaker_close_seconds"] = time.monotonic() - started
    return result


def scenario_speaker(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Two items streamed in small deltas with pauses; everything plays, counted per item."""
    from realtime_sync import devices

    result: Dict[str, Any] = {}

    rate = 24000
    first = tone(500, 0.6, rate=rate, amplitude=0.3)
    second = tone(800, 0.4, rate=rate, amplitude=0.3)
    speaker = devices.Speaker(sample_rate=params.get("device_rate"))
    speaker.start()
    step = rate * 30 // 1000  # 30 ms deltas, like a server's
    for name, audio in (("item_1", first), ("item_2", second)):
        for start in range(0, len(audio), step):
            speaker.play(name, audio[start:start + step])
            if start == 5 * step:  # a pause longer than the speaker's tail wait
                assert speaker.wait_until_done(5)
                card.wait_playback_quiet(0.15, 5)
    done = speaker.wait_until_done(10)
    # A whole second in one call while the device takes nothing: play() only queues it (the socket
    # thread must not wait for the device), and nothing counts as played before the device takes it.
    third = tone(650, 1.0, rate=rate, amplitude=0.3)
    card.hold_playback()
    returned = threading.Event()

    def play_third() -> None:
        speaker.play("item_3", third)
        returned.set()

    threading.Thread(target=play_third, name="scenario-play", daemon=True).start()
    result["play_returned_while_held"] = returned.wait(10)
    result["busy_while_held"] = speaker.is_playing()
    result["drained_while_held"] = speaker.wait_until_done(0.01)  # short: PortAudio gives up on a device held long
    result["played_while_held"] = speaker.samples_played("item_3")
    card.release_playback()
    done = speaker.wait_until_done(10) and done
    result.update({
        "done": done,
        "device_rate": speaker.device_rate,
        "played": [speaker.samples_played(name) for name in ("item_1", "item_2", "item_3")],
        "lengths": [len(first), len(second), len(third)],
    })
    closes = card.playback_closes()
    speaker.close()
    card.wait_playback_closed(closes, 10)  # closing the stream flushes the file plugin's buffer
    _save(directory, "expected.raw", np.concatenate([first, second, third]))
    _save(directory, "played.raw", card.played())
    return result


def scenario_no_input(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """A machine with a speaker and no microphone."""
    import gc

    from realtime_sync import devices
    from realtime_sync.client import RealtimeClient

    result: Dict[str, Any] = {"devices": devices.list_devices()}
    started = time.monotonic()
    try:
        devices.Microphone().start()
        result["microphone"] = None
    except Exception as exc:  # what we are checking
        result["microphone"] = [type(exc).__name__, str(exc), time.monotonic() - started]
    client = RealtimeClient(url="ws://127.0.0.1:9")  # never connected: VoiceChat fails before it matters
    chat = devices.VoiceChat(client)
    try:
        chat.start()
        result["voice_chat"] = None
    except Exception as exc:  # what we are checking
        result["voice_chat"] = [type(exc).__name__, str(exc)]
    gc.collect()
    result["threads"] = sorted(t.name for t in threading.enumerate() if t.name.startswith("realtime-sync"))
    result["chat_devices"] = [chat.microphone is None, chat.speaker is None]
    return result


def scenario_capture_to_client(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Microphone(client=...) streams straight into the input buffer: decode what went on the wire."""
    from realtime_sync import audio as audio_helpers
    from realtime_sync import devices

    fmt = params.get("audio_format", "pcm16")
    sim, client = _voice_session(card, params, "Thanks.")
    wire: List[np.ndarray] = []
    client.realtime.on(
        "client.input_audio_buffer.append",
        lambda event: wire.append(audio_helpers.decode_audio(event["audio"], fmt)),
    )
    try:
        client.update_session(turn_detection=None)
        mic = devices.Microphone(client=client, audio_format=fmt)
        device_input = _record_device_input(mic)
        with mic:
            card.say(np.concatenate([tone(params["freq"], params["seconds"], amplitude=0.3), silence(0.2)]))
            card.wait_said(10)
        user_items: List[Dict[str, Any]] = []
        user_done = threading.Event()

        def on_completed(event: Dict[str, Any]) -> None:  # registered before the turn is sent
            if event["item"].get("role") == "user":
                user_items.append(event["item"])
                user_done.set()

        client.on("conversation.item.completed", on_completed)
        client.create_response()  # commits the buffered audio as the user's turn
        _wait(user_done, 20, "the user's item")
        committed = int(len(user_items[0]["formatted"]["audio"]))
    finally:
        client.disconnect()
        sim.stop()
    sent = np.concatenate(wire) if wire else np.zeros(0, np.int16)
    _save(directory, "wire.raw", sent)
    _save(directory, "device_input.raw", np.frombuffer(b"".join(device_input), dtype="<i2"))
    return {
        "rate": mic.rate,
        "device_rate": mic.device_rate,
        "sent_samples": int(len(sent)),
        "committed_samples": committed,
        "appends": len(wire),
    }


def _voice_session(card: FakeSoundCard, params: Dict[str, Any], reply: str):  # type: ignore[no-untyped-def]
    from realtime_sync.client import RealtimeClient
    from realtime_sync.simulator import RealtimeSimulator

    # sim_speed: stream the reply at this multiple of real time (None: all at once)
    sim = RealtimeSimulator(speed=params.get("sim_speed"), responder=lambda items, session: reply)
    sim.start()
    client = RealtimeClient(url=sim.url)
    fmt = params.get("audio_format", "pcm16")
    client.update_session(input_audio_format=fmt, output_audio_format=fmt, modalities=["text", "audio"])
    client.connect(timeout=10)
    client.wait_for_session_created(10)
    return sim, client


class _Recorder:
    """Collects what the client sends and the assistant's audio, with events to wait on."""

    def __init__(self, client: Any) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.received: List[str] = []
        self.audio: Dict[str, List[np.ndarray]] = {}
        self.completed: List[Dict[str, Any]] = []
        self.assistant_done = threading.Event()
        self.truncated = threading.Event()
        self.speech_started = threading.Event()
        self.lock = threading.Lock()
        client.realtime.on("client.*", self._on_client)
        client.realtime.on("server.*", self._on_server)
        client.on("conversation.updated", self._on_updated)
        client.on("conversation.item.completed", self._on_completed)

    def _on_client(self, event: Dict[str, Any]) -> None:
        with self.lock:
            self.sent.append(event)
        if event.get("type") == "conversation.item.truncate":
            self.truncated.set()

    def _on_server(self, event: Dict[str, Any]) -> None:
        with self.lock:
            self.received.append(event.get("type", ""))
        if event.get("type") == "input_audio_buffer.speech_started":
            self.speech_started.set()

    def _on_updated(self, event: Dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        if delta.get("audio") is not None:
            with self.lock:
                self.audio.setdefault(event["item"]["id"], []).append(np.array(delta["audio"], dtype=np.int16))

    def _on_completed(self, event: Dict[str, Any]) -> None:
        item = event["item"]
        with self.lock:
            self.completed.append({"id": item["id"], "role": item.get("role"), "type": item.get("type")})
        if item.get("role") == "assistant":
            self.assistant_done.set()

    def item_audio(self, item_id: str) -> np.ndarray:
        with self.lock:
            parts = list(self.audio.get(item_id, []))
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def sent_types(self) -> List[str]:
        with self.lock:
            return [e.get("type", "") for e in self.sent]


def _wait(event: threading.Event, timeout: float, what: str) -> None:
    if not event.wait(timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _assistant_items(rec: _Recorder) -> List[str]:
    with rec.lock:
        return [c["id"] for c in rec.completed if c["role"] == "assistant"]


@contextlib.contextmanager
def _voice_chat(
    card: FakeSoundCard, params: Dict[str, Any], **chat_options: Any
) -> Iterator[Tuple[Any, _Recorder, Any]]:
    """Yield (client, recorder, VoiceChat) against a simulator that answers ``params["reply"]``.

    ``chat_options`` go to VoiceChat. On exit the chat stops, a speaker passed
    in is closed, the client disconnects, the simulator stops, and everything
    the speaker wrote has reached :meth:`FakeSoundCard.played`.
    """
    from realtime_sync import devices

    sim, client = _voice_session(card, params, params["reply"])
    rec = _Recorder(client)
    chat = devices.VoiceChat(client, **chat_options)
    try:
        yield client, rec, chat
    finally:
        closes = card.playback_closes()
        opened = chat.speaker is not None and chat.speaker.device_rate is not None
        chat.stop()
        if chat_options.get("speaker") is not None:
            chat_options["speaker"].close()
        client.disconnect()
        sim.stop()
        if opened:  # closing the stream flushes the file plugin's buffer
            card.wait_playback_closed(closes, 10)


def _reply_played(card: FakeSoundCard, rec: _Recorder, chat: Any) -> str:
    """Wait until the assistant's reply is complete and played out; return its item id."""
    _wait(rec.assistant_done, 20, "the assistant's reply")
    assert chat.speaker.wait_until_done(20)
    card.wait_playback_quiet(0.3, 10)
    return _assistant_items(rec)[0]


def _sent_turn_detection(session: Dict[str, Any]) -> Any:
    """The ``turn_detection`` a sent session sets, in either dialect (GA nests it), or ``"missing"``."""
    if "turn_detection" in session:
        return session["turn_detection"]
    return ((session.get("audio") or {}).get("input") or {}).get("turn_detection", "missing")


def scenario_turn(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """A spoken turn through server VAD; the reply comes out of the playback device."""
    with _voice_chat(card, params) as (client, rec, chat):
        chat.start()
        assert chat.microphone is not None and chat.speaker is not None
        card.say(np.concatenate([silence(0.2), tone(440, params["speech_seconds"], amplitude=0.3), silence(0.8)]))
        item_id = _reply_played(card, rec, chat)
        speaker = chat.speaker
        result = {
            "item_id": item_id,
            "speaker_rate": speaker.rate,
            "device_rate": speaker.device_rate,
            "output_latency": speaker.output_latency,
            "samples_played": speaker.samples_played(item_id),
            "sent": sorted(set(rec.sent_types())),
            "received": rec.received,
            "turn_detection": client.get_turn_detection_type(),
            "completed": rec.completed,
        }
    _save(directory, "item.raw", rec.item_audio(item_id))
    _save(directory, "played.raw", card.played())
    return result


def scenario_barge_in(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Speak over a long reply: playback stops and the truncate names what was played."""
    from realtime_sync import devices

    speaker = devices.Speaker(
        audio_format=params.get("audio_format", "pcm16"), sample_rate=params.get("speaker_device_rate")
    )
    with _voice_chat(card, params, speaker=speaker) as (_client, rec, chat):
        chat.start()
        card.say(np.concatenate([silence(0.2), tone(440, 0.5, amplitude=0.3), silence(0.8)]))
        # wait until the listener has heard `after` seconds of the reply, then talk over it
        after = params["interrupt_after"]
        threshold = 0.02 * 32768

        def heard_enough(played: np.ndarray) -> bool:
            loud = np.nonzero(np.abs(played) > threshold)[0]
            return len(loud) > 0 and (len(played) - loud[0]) >= after * CARD_RATE

        if not card.wait_played(heard_enough, 20):
            raise AssertionError("the reply never started playing")
        if params.get("sim_speed") is None:  # the whole reply came at once: its response is over
            _wait(rec.assistant_done, 20, "the end of the response")
        before_barge = card.played_frames()
        card.say(np.concatenate([tone(660, 0.6, amplitude=0.3), silence(0.5)]))
        if not rec.truncated.wait(20):
            with rec.lock:
                seen = [t for t in rec.received if "delta" not in t]
            raise AssertionError(
                f"no conversation.item.truncate within 20 s; server events: {seen}; speaker playing: "
                f"{speaker.is_playing()}, error: {speaker.error!r}"
            )
        with rec.lock:
            truncate = next(e for e in rec.sent if e.get("type") == "conversation.item.truncate")
            cancels = sum(1 for e in rec.sent if e.get("type") == "response.cancel")
        assert speaker.wait_until_done(10)
        card.wait_playback_quiet(0.3, 10)
        played = card.played()
        item_id = truncate["item_id"]
        result = {
            "item_id": item_id,
            "truncate": truncate,
            "cancels": cancels,
            "speaker_rate": speaker.rate,
            "device_rate": speaker.device_rate,
            "chunk_ms": speaker.chunk_ms,
            "output_latency": speaker.output_latency,
            "samples_played": speaker.samples_played(item_id),
            "played_frames_before_barge_in": before_barge,
            "is_playing_after": speaker.is_playing(),
        }
        # audio of the item that still streams in after the cut is not played
        card.wait_playback_quiet(0.3, 10)
        result["played_frames_at_end"] = card.played_frames()
    _save(directory, "item.raw", rec.item_audio(item_id))
    _save(directory, "played.raw", played)
    _save(directory, "played_final.raw", card.played())
    return result


def scenario_push_to_talk(card: FakeSoundCard, directory: Path, params: Dict[str, Any]) -> Dict[str, Any]:
    """Turn detection off; audio is sent only between begin_turn() and end_turn()."""
    with _voice_chat(card, params, push_to_talk=True) as (client, rec, chat):
        chat.start()
        assert chat.speaker is not None
        # speech before the button is pressed is not sent
        card.say(np.concatenate([tone(440, 0.3, amplitude=0.3), silence(0.1)]))
        card.wait_said(10)
        appended_before = rec.sent_types().count("input_audio_buffer.append")
        chat.begin_turn()
        card.say(np.concatenate([silence(0.05), tone(550, params["speech_seconds"], amplitude=0.3), silence(0.2)]))
        card.wait_said(10)
        chat.end_turn()
        item_id = _reply_played(card, rec, chat)
        with rec.lock:
            sent = list(rec.sent)
        appended = [e for e in sent if e.get("type") == "input_audio_buffer.append"]
        user_items = [i for i in client.conversation.get_items() if i.get("role") == "user"]
        user_audio = user_items[0]["formatted"]["audio"] if user_items else np.zeros(0, np.int16)
        session_updates = [e for e in sent if e.get("type") == "session.update"]
        result = {
            "item_id": item_id,
            "appended_before": appended_before,
            "appended": len(appended),
            "sent": [e.get("type") for e in sent],
            "turn_detection": _sent_turn_detection(session_updates[-1]["session"]) if session_updates else "missing",
            "speaker_rate": chat.speaker.rate,
            "user_audio_samples": int(len(user_audio)),
            "mic_rate": chat.microphone.rate if chat.microphone else None,
            "mic_device_rate": chat.microphone.device_rate if chat.microphone else None,
        }
        _save(directory, "user.raw", np.asarray(user_audio, dtype=np.int16))
    _save(directory, "item.raw", rec.item_audio(item_id))
    _save(directory, "played.raw", card.played())
    return result


def _main(argv: List[str]) -> int:
    name, directory, params = argv[1], Path(argv[2]), json.loads(argv[3])
    if os.environ.get("SCENARIO_DUMP_AFTER"):
        import faulthandler

        faulthandler.dump_traceback_later(float(os.environ["SCENARIO_DUMP_AFTER"]), exit=False)
    card = FakeSoundCard(directory, speed=float(params.pop("speed", 1.0)), capture=bool(params.pop("capture", True)))
    card.start()
    try:
        result = globals()[f"scenario_{name}"](card, directory, params)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        card.stop()
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
