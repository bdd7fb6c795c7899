"""Band-limited resampling: :func:`resample` and :class:`Resampler` (private).

See :mod:`realtime_sync.audio` for the public names.
"""

from __future__ import annotations

import array
from math import gcd
from typing import Any

import numpy as np

from ._pcm import INT16_MAX, INT16_MIN, AudioLike, check_rate, pcm16_view

__all__ = ["resample", "Resampler"]

# Resampling
#
# A windowed-sinc (Kaiser) FIR evaluated in polyphase form. With
# to_rate / from_rate = L / M in lowest terms, output sample j sits at input
# time t_j = j * M / L, so there are L distinct fractional offsets (phases),
# each with its own row of precomputed taps. When downsampling the kernel is
# stretched so that its cutoff sits below the *output* Nyquist frequency: that
# is the anti-aliasing filter. For rate pairs with very many phases (L above
# _MAX_EXACT_PHASES) the taps are interpolated linearly from a fine table.
#
# The edges of a buffer are extended by odd (point) reflection, which keeps the
# signal and its slope continuous, so short chunks resampled one by one do not
# get the dips that zero padding would put at every chunk boundary.

_ZERO_CROSSINGS = 24  # per side, at the lower of the two rates
_KAISER_BETA = 8.5  # about 85 dB stop-band attenuation
_ROLLOFF = 0.92  # cutoff, as a fraction of the lower Nyquist frequency
_MAX_EXACT_PHASES = 1024
_TABLE_PHASES = 1024



def _kernel(offsets: np.ndarray, L: int, M: int) -> np.ndarray:
    """The interpolation kernel at ``offsets`` (in input samples)."""
    scale = min(1.0, L / M)
    half_width = _ZERO_CROSSINGS / scale
    cutoff = _ROLLOFF * scale  # twice the cutoff, in cycles per input sample
    u = np.clip(offsets / half_width, -1.0, 1.0)
    window = np.i0(_KAISER_BETA * np.sqrt(1.0 - u * u)) / np.i0(_KAISER_BETA)
    window[np.abs(offsets) >= half_width] = 0.0
    return cutoff * np.sinc(cutoff * offsets) * window


def _half_taps(L: int, M: int) -> int:
    return int(np.ceil(_ZERO_CROSSINGS / min(1.0, L / M)))


_TAP_CACHE: "dict[tuple[int, int], np.ndarray]" = {}


def _taps(L: int, M: int) -> np.ndarray:
    """Rows of taps, one per phase (``phases x 2R``), each row summing to 1.

    Row ``p`` holds the weights of inputs ``floor(t) - R + 1 .. floor(t) + R``
    for an output at fractional offset ``p / phases`` past ``floor(t)``. For
    the table used with interpolation, ``phases`` is ``_TABLE_PHASES`` and
    there is one extra row (offset 1.0).
    """
    key = (L, M)
    cached = _TAP_CACHE.get(key)
    if cached is not None:
        return cached
    R = _half_taps(L, M)
    if L <= _MAX_EXACT_PHASES:
        fractions = np.arange(L) / L
    else:
        fractions = np.arange(_TABLE_PHASES + 1) / _TABLE_PHASES
    r = np.arange(-R + 1, R + 1)
    taps = _kernel(fractions[:, None] - r[None, :], L, M)
    taps /= taps.sum(axis=1, keepdims=True)
    taps.flags.writeable = False
    if len(_TAP_CACHE) > 64:
        _TAP_CACHE.clear()
    _TAP_CACHE[key] = taps
    return taps


def _odd_extension(x: np.ndarray, count: int) -> np.ndarray:
    """``count`` samples continuing ``x`` past its end by odd reflection."""
    if count <= 0:
        return np.zeros(0, dtype=np.float64)
    last = x[-1]
    avail = min(count, len(x) - 1)
    ext: np.ndarray = 2.0 * last - x[::-1][1 : 1 + avail]
    if count > avail:
        fill = ext[-1] if avail else last
        ext = np.concatenate([ext, np.full(count - avail, fill)])
    return ext


def _span(
    ext: np.ndarray, ext_start: int, j_start: int, j_end: int, L: int, M: int
) -> np.ndarray:
    """Outputs ``j_start <= j < j_end`` from ``ext`` (``ext[0]`` is input index ``ext_start``)."""
    n_out = j_end - j_start
    out = np.empty(max(n_out, 0), dtype=np.float64)
    if n_out <= 0:
        return out
    taps = _taps(L, M)
    R = taps.shape[1] // 2
    windows = np.lib.stride_tricks.sliding_window_view(ext, 2 * R)
    first = 1 - R - ext_start  # window start in ext = base + first
    if L <= _MAX_EXACT_PHASES and n_out < 32 * L:
        # short buffers (stream chunks): one gather beats a loop over the phases
        bases, phases = np.divmod(np.arange(j_start, j_end, dtype=np.int64) * M, L)
        short: np.ndarray = np.einsum("ij,ij->i", windows[bases + first], taps[phases])
        return short
    if L <= _MAX_EXACT_PHASES:
        for k in range(min(L, n_out)):
            j = j_start + k
            q = j * M
            base, phase = divmod(q, L)
            count = (n_out - k + L - 1) // L
            start = base + first
            rows = windows[start : start + M * (count - 1) + 1 : M]
            out[k::L] = rows @ taps[phase]
        return out
    block = 8192
    for lo in range(0, n_out, block):
        outputs = np.arange(j_start + lo, j_start + min(lo + block, n_out), dtype=np.int64)
        bases, remainders = np.divmod(outputs * M, L)
        position = remainders * (_TABLE_PHASES / L)
        index = np.minimum(position.astype(np.int64), _TABLE_PHASES - 1)
        weight = (position - index)[:, None]
        coefs = taps[index] * (1.0 - weight) + taps[index + 1] * weight
        rows = windows[bases + first]
        out[lo : lo + len(outputs)] = np.einsum("ij,ij->i", rows, coefs)
    return out


def _prepare_resample_input(samples: Any) -> "tuple[np.ndarray, bool]":
    """Return (float64 samples at int16 scale or float scale, is_integer_input)."""
    if isinstance(samples, np.ndarray) and samples.dtype.kind == "f":
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio as a 1-D array, got shape {samples.shape}")
        return samples.astype(np.float64), False
    if isinstance(samples, (list, tuple, array.array)):
        arr = np.asarray(samples)
        if arr.dtype.kind == "f":
            if arr.ndim != 1:
                raise ValueError(f"expected mono audio as a 1-D array, got shape {arr.shape}")
            return arr.astype(np.float64), False
    return pcm16_view(samples).astype(np.float64), True


def _finish(y: np.ndarray, integer: bool) -> np.ndarray:
    if not integer:
        return y.astype(np.float32)
    np.rint(y, out=y)
    np.clip(y, INT16_MIN, INT16_MAX, out=y)
    return y.astype(np.int16)


def resample(samples: AudioLike, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono audio from ``from_rate`` Hz to ``to_rate`` Hz.

    Band-limited interpolation with a Kaiser-windowed sinc filter (polyphase,
    about 85 dB stop-band; the cutoff is at 92% of the lower Nyquist
    frequency, so when downsampling it is the anti-aliasing filter and when
    upsampling it removes the images). A NaN in float input spreads to the
    outputs within the filter's reach (about 24 samples at the lower rate). Any pair of
    positive whole-number rates works; 8, 16, 24, 44.1 and 48 kHz are the
    usual ones. The output has ``round(len(samples) * to_rate / from_rate)``
    samples and output sample ``j`` is aligned with input time
    ``j * from_rate / to_rate``.

    The function is stateless: each call treats its buffer as a whole signal,
    extending the edges by odd reflection. Chunks resampled one by one join
    up well but not perfectly; for a stream use :class:`Resampler`, which
    gives the same result as one call on the concatenated input.

    Args:
        samples: int16 (or anything :func:`to_pcm16` accepts) or float audio.
        from_rate: the sample rate of ``samples``, in Hz.
        to_rate: the wanted sample rate, in Hz.

    Returns:
        A new array: int16 for integer/bytes input (rounded and clipped),
        float32 for float input (not clipped).

    Raises:
        ConfigurationError: a rate is not a positive whole number.
        TypeError, ValueError: as :func:`to_pcm16` (for example 2-D input).
    """
    L, M = _ratio(from_rate, to_rate)
    x, integer = _prepare_resample_input(samples)
    n = len(x)
    if L == M:
        return _finish(x.copy(), integer) if not integer else pcm16_view(samples).copy()
    n_out = int(round(n * L / M))
    if n == 0 or n_out == 0:
        return _finish(np.zeros(0), integer)
    R = _half_taps(L, M)
    last_base = ((n_out - 1) * M) // L
    right = max(0, last_base + R - (n - 1))
    ext = np.concatenate([_odd_extension(x[::-1], R)[::-1], x, _odd_extension(x, right)])
    return _finish(_span(ext, -R, 0, n_out, L, M), integer)


def _ratio(from_rate: Any, to_rate: Any) -> "tuple[int, int]":
    """``(L, M)``: ``to_rate / from_rate`` in lowest terms."""
    f = check_rate(from_rate, "from_rate")
    t = check_rate(to_rate, "to_rate")
    g = gcd(f, t)
    return t // g, f // g


class Resampler:
    """Streaming resampler: feed chunks, get the same samples as one :func:`resample` call.

    Keeps the filter's history between chunks, so chunk boundaries leave no
    trace; the concatenation of every :meth:`process` result and the final
    :meth:`flush` equals ``resample(all_input, from_rate, to_rate)`` (to float
    rounding). The price is latency: each call holds back the last few input
    samples (``24 * max(1, from_rate / to_rate)`` or so) until more arrive.

    Output dtype follows each call's input: int16 for integer input, float32
    for float input (:meth:`flush` follows the last input).

    Not thread-safe: use one instance per stream, from one thread at a time.

    Example::

        rs = Resampler(48000, 24000)
        for chunk in microphone_chunks:
            client.append_input_audio(rs.process(chunk))
        client.append_input_audio(rs.flush())
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = check_rate(from_rate, "from_rate")
        self.to_rate = check_rate(to_rate, "to_rate")
        self._L, self._M = _ratio(from_rate, to_rate)
        self._R = _half_taps(self._L, self._M)
        self._integer = True
        self.reset()

    def reset(self) -> None:
        """Forget all buffered input and start a new stream."""
        self._buffer = np.zeros(0, dtype=np.float64)
        self._buffer_start = 0  # input index of _buffer[0] (negative: left padding)
        self._started = False  # left padding added
        self._n_in = 0
        self._n_out = 0

    def __repr__(self) -> str:
        return f"Resampler({self.from_rate}, {self.to_rate})"

    def process(self, samples: AudioLike) -> np.ndarray:
        """Add a chunk and return the output samples that are ready (maybe none)."""
        x, self._integer = _prepare_resample_input(samples)
        if self._L == self._M:
            return _finish(x, self._integer)
        self._buffer = np.concatenate([self._buffer, x]) if len(self._buffer) else x
        self._n_in += len(x)
        R = self._R
        if not self._started:
            if self._n_in < R + 1:
                return _finish(np.zeros(0), self._integer)
            left = _odd_extension(self._buffer[::-1], R)[::-1]
            self._buffer = np.concatenate([left, self._buffer])
            self._buffer_start = -R
            self._started = True
        # output j is ready when its last input, floor(j * M / L) + R, has arrived
        ready = self._n_in - R  # outputs need floor(j*M/L) <= ready - 1
        j_end = ((ready * self._L - 1) // self._M) + 1 if ready > 0 else 0
        out = self._emit(j_end)
        return _finish(out, self._integer)

    def flush(self) -> np.ndarray:
        """Return the remaining output (the stream's end) and reset for a new stream.

        After ``flush`` the total output is ``round(total_input * to_rate / from_rate)``.
        """
        if self._L == self._M or self._n_in == 0:
            self.reset()
            return _finish(np.zeros(0), self._integer)
        R = self._R
        if not self._started:
            left = _odd_extension(self._buffer[::-1], R)[::-1]
            self._buffer = np.concatenate([left, self._buffer])
            self._buffer_start = -R
            self._started = True
        n_total = int(round(self._n_in * self._L / self._M))
        real = self._buffer[max(0, -self._buffer_start) :]
        if n_total > self._n_out:
            last_base = ((n_total - 1) * self._M) // self._L
            right = max(0, last_base + R - (self._n_in - 1))
            self._buffer = np.concatenate([self._buffer, _odd_extension(real, right)])
        out = self._emit(n_total)
        self.reset()
        return _finish(out, self._integer)

    def _emit(self, j_end: int) -> np.ndarray:
        out = _span(self._buffer, self._buffer_start, self._n_out, j_end, self._L, self._M)
        self._n_out = max(self._n_out, j_end)
        # keep what the next output needs, and the last R + 1 inputs for the end
        next_first = (self._n_out * self._M) // self._L - self._R + 1
        keep_from = min(next_first, self._n_in - self._R - 1)
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:].copy()
            self._buffer_start = keep_from
        return out


