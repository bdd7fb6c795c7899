"""Energy-based voice activity detection for the simulator's ``server_vad`` mode.

The real server runs a neural VAD; the simulator approximates it with the
loudness of 10 ms frames, which is deterministic and good enough to drive
clients through the speech_started / speech_stopped / commit cycle.

Threshold mapping: the session's ``turn_detection.threshold`` (0.0 to 1.0) maps
linearly onto an RMS level in dBFS (0 dBFS is a full-scale square wave)::

    level_dbfs = -70 + 60 * threshold        # 0.0 -> -70, 0.5 -> -40, 1.0 -> -10

A frame whose RMS level is at or above that level counts as speech. Ordinary
speech into a microphone sits around -35 to -15 dBFS, room noise below -55.

Everything here runs on the simulator's loop thread (:mod:`.runtime`); it is pure numpy and
holds no locks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

__all__ = ["threshold_to_dbfs", "frame_levels_dbfs", "VadEvent", "EnergyVAD", "FRAME_MS"]

#: Length of one analysis frame, in milliseconds.
FRAME_MS = 10

_FLOOR_DBFS = -70.0
_CLOSE = 1e-9  # relative distance of a frame's energy to the threshold's within which rounding could decide
_RANGE_DB = 60.0


def threshold_to_dbfs(threshold: float) -> float:
    """Map a ``turn_detection.threshold`` in [0, 1] to an RMS level in dBFS."""
    threshold = min(max(float(threshold), 0.0), 1.0)
    return _FLOOR_DBFS + _RANGE_DB * threshold


def frame_levels_dbfs(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """RMS level in dBFS of each whole frame of ``frame_len`` int16 samples.

    A trailing partial frame is ignored; silence gives -inf clipped to -120.
    """
    n_frames = len(samples) // frame_len
    if n_frames == 0:
        return np.zeros(0, dtype=np.float64)
    frames = samples[: n_frames * frame_len].astype(np.float64).reshape(n_frames, frame_len)
    rms = np.sqrt(np.mean(frames * frames, axis=1)) / 32768.0
    with np.errstate(divide="ignore"):
        levels = 20.0 * np.log10(rms)
    floored: np.ndarray = np.maximum(levels, -120.0)
    return floored


@dataclass
class VadEvent:
    """A speech boundary found by :class:`EnergyVAD`.

    Attributes:
        kind: ``"started"`` or ``"stopped"``.
        ms: for ``started``, the start of the audio sent to the model (speech
            onset minus ``prefix_padding_ms``, never before the buffer start);
            for ``stopped``, the end of speech plus ``silence_duration_ms``,
            as the real server reports it. Milliseconds from session start.
        sample: the same position as a sample index in the session's input stream.
    """

    kind: str
    ms: int
    sample: int


class EnergyVAD:
    """Frame-energy speech detector over a stream of int16 samples.

    Args:
        rate: sample rate of the input stream (Hz).
        threshold: 0..1, mapped by :func:`threshold_to_dbfs`.
        prefix_padding_ms: audio kept before the detected onset.
        silence_duration_ms: silence that ends a turn.
    """

    def __init__(
        self,
        rate: int,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        position: int = 0,
    ) -> None:
        self.rate = int(rate)
        self.frame_len = max(1, self.rate * FRAME_MS // 1000)
        self.configure(threshold, prefix_padding_ms, silence_duration_ms)
        self.speaking = False
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = int(position)  # stream sample index of _pending[0]
        self._silent_frames = 0
        self._floor_sample = int(position)  # speech may not be padded back before this sample

    def configure(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        """Change the settings in place, keeping the stream position and speech state."""
        self.level_dbfs = threshold_to_dbfs(threshold)
        # the level as a frame's sum of squared samples: frames are compared without sqrt or log
        self._min_energy = self.frame_len * (32768.0 * 10.0 ** (self.level_dbfs / 20.0)) ** 2
        self.prefix_padding_ms = max(0, int(prefix_padding_ms))
        self.silence_duration_ms = max(0, int(silence_duration_ms))

    def reset(self, floor_sample: Optional[int] = None) -> None:
        """Forget any speech in progress (after a manual commit or clear)."""
        self.speaking = False
        self._silent_frames = 0
        if floor_sample is not None:
            self._floor_sample = int(floor_sample)

    def _ms(self, sample: int) -> int:
        return int(sample * 1000 // self.rate)

    def _voiced(self, frames: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Which ``frames`` (rows of samples, ``energy`` their sums of squares) are at or above the threshold.

        The energy is exact in float64 for int16 frames; a frame within
        rounding distance of the threshold is decided on its level in dBFS,
        as :func:`frame_levels_dbfs` computes it.
        """
        voiced: np.ndarray = energy >= self._min_energy
        close = np.abs(energy - self._min_energy) <= self._min_energy * _CLOSE
        if close.any():
            levels = frame_levels_dbfs(frames[close].reshape(-1), self.frame_len)
            voiced[close] = levels >= self.level_dbfs
        return voiced

    def feed(self, samples: np.ndarray) -> List[VadEvent]:
        """Analyse newly appended samples; return the boundaries found, in order."""
        samples = samples.astype(np.int16, copy=False)
        if len(self._pending):
            data = np.concatenate([self._pending, samples]) if len(samples) else self._pending
        else:
            data = samples
        count = len(data) // self.frame_len
        consumed = count * self.frame_len
        events: List[VadEvent] = []
        if count:
            frames = data[:consumed].reshape(count, self.frame_len)
            as_float = frames.astype(np.float64).reshape(-1)
            # in silence, when all the frames together stay below the threshold, there is nothing to report
            if self.speaking or float(np.dot(as_float, as_float)) >= self._min_energy * (1.0 - _CLOSE):
                rows = as_float.reshape(count, self.frame_len)
                energy = np.einsum("ij,ij->i", rows, rows)
                events = self._boundaries(self._voiced(frames, energy).tolist())
        rest = data[consumed:]
        self._pending = rest.copy() if len(rest) and rest.base is not None else rest  # own the few samples kept
        self._position += consumed
        return events

    def _boundaries(self, voiced_frames: List[bool]) -> List[VadEvent]:
        """The speech boundaries in whole frames from the current position on."""
        events: List[VadEvent] = []
        silence_frames_needed = max(1, math.ceil(self.silence_duration_ms / FRAME_MS))
        for index, voiced in enumerate(voiced_frames):
            frame_start = self._position + index * self.frame_len
            if not self.speaking:
                if voiced:
                    self.speaking = True
                    self._silent_frames = 0
                    pad = self.prefix_padding_ms * self.rate // 1000
                    start = max(self._floor_sample, frame_start - pad, 0)
                    events.append(VadEvent("started", self._ms(start), start))
            elif voiced:
                self._silent_frames = 0
            else:
                self._silent_frames += 1
                if self._silent_frames >= silence_frames_needed:
                    end = frame_start + self.frame_len
                    self.speaking = False
                    self._silent_frames = 0
                    self._floor_sample = end
                    events.append(VadEvent("stopped", self._ms(end), end))
        return events
