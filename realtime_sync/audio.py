"""PCM audio helpers for the Realtime API, in numpy.

The Realtime API moves audio as base64 text inside JSON events, in one of three
wire formats (:data:`AUDIO_FORMATS`):

* ``"pcm16"``: signed 16-bit little-endian samples, 24 kHz, mono;
* ``"g711_ulaw"`` and ``"g711_alaw"``: one G.711 byte per sample, 8 kHz, mono.

Inside the library, audio is always a 1-D ``numpy.int16`` array of mono
samples (native byte order). This module converts between that and everything
else: base64 text, floats in ``[-1, 1]``, G.711 bytes, other sample rates and
WAV files.

Conventions:

* float <-> int16 scaling uses 32768 both ways: ``int16 = clip(rint(x * 32768),
  -32768, 32767)`` and ``x = int16 / 32768``. So ``-1.0`` maps to ``-32768``,
  ``+1.0`` clips to ``32767``, and int16 -> float -> int16 is exact.
* Byte strings of pcm16 are little-endian whatever the host; an odd trailing
  byte (half a sample) is dropped.
* G.711 is bit-exact with the classic Sun reference code that CPython's
  ``audioop`` used (``lin2ulaw``/``ulaw2lin``/``lin2alaw``/``alaw2lin`` with
  width 2), so this module replaces ``audioop`` on Python 3.13+.

The functions, by job:

* wire format: :data:`AUDIO_FORMATS`, :func:`sample_rate`,
  :func:`encode_audio`, :func:`decode_audio`;
* pcm16: :func:`to_pcm16`, :func:`pcm16_to_base64`, :func:`base64_to_pcm16`,
  :func:`float_to_pcm16`, :func:`pcm16_to_float`;
* G.711: :func:`ulaw_encode`, :func:`ulaw_decode`, :func:`alaw_encode`,
  :func:`alaw_decode`;
* sample rates: :func:`resample` (one buffer) and :class:`Resampler` (a
  stream of chunks);
* files: :func:`read_wav`, :func:`write_wav`.

Every function here is pure (no shared state) and safe to call from any
thread, including the socket thread; none blocks (only the WAV functions do
I/O). A :class:`Resampler` holds the state of one stream and is used from one
thread at a time.

Example::

    samples, rate = read_wav("question.wav")          # int16, any rate, mono
    samples = resample(samples, rate, sample_rate("pcm16"))
    event = {"type": "input_audio_buffer.append", "audio": encode_audio(samples)}
"""

from __future__ import annotations

import array
import base64
import binascii
import io
import logging
import os
import struct
import wave
from math import gcd
from typing import IO, Any, List, Tuple, Union

import numpy as np

from .errors import ConfigurationError

__all__ = [
    "AUDIO_FORMATS",
    "sample_rate",
    "to_pcm16",
    "float_to_pcm16",
    "pcm16_to_float",
    "pcm16_to_base64",
    "base64_to_pcm16",
    "encode_audio",
    "decode_audio",
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "resample",
    "Resampler",
    "read_wav",
    "write_wav",
]

logger = logging.getLogger(__name__)

#: The audio formats of the Realtime API, as named in ``session.update``.
AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")

_SAMPLE_RATES = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}

_PCM16_LE = np.dtype("<i2")
_INT16_MIN = -32768
_INT16_MAX = 32767

#: What :func:`to_pcm16` accepts (an alias for type hints).
AudioLike = Union[
    np.ndarray, bytes, bytearray, memoryview, "array.array[Any]", List[Any], Tuple[Any, ...]
]


def sample_rate(audio_format: str) -> int:
    """Return the sample rate in Hz of a Realtime API audio format.

    ``"pcm16"`` is 24000 Hz; ``"g711_ulaw"`` and ``"g711_alaw"`` are 8000 Hz.

    Raises:
        ConfigurationError: ``audio_format`` is not one of :data:`AUDIO_FORMATS`.
    """
    try:
        return _SAMPLE_RATES[audio_format]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown audio format {audio_format!r}; expected one of {', '.join(AUDIO_FORMATS)}"
        ) from None


def _check_format(audio_format: str) -> str:
    sample_rate(audio_format)
    return audio_format


def _bytes_to_pcm16(data: Union[bytes, bytearray, memoryview]) -> np.ndarray:
    """Little-endian pcm16 bytes to a new native int16 array (odd last byte dropped)."""
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    view = view.cast("B")
    count = len(view) // 2
    return np.frombuffer(view, dtype=_PCM16_LE, count=count).astype(np.int16)


_a2b_base64 = binascii.a2b_base64
_NATIVE_LE = np.dtype(np.int16) == _PCM16_LE


def _pcm16_from_decoded(data: bytes) -> np.ndarray:
    """Freshly decoded pcm16 bytes (owned by nobody else) to a new, writeable int16 array."""
    if len(data) & 1:
        data = data[:-1]
    if _NATIVE_LE:
        return np.frombuffer(bytearray(data), dtype=np.int16)
    return np.frombuffer(data, dtype=_PCM16_LE).astype(np.int16)


def _int_array_to_int16(arr: np.ndarray) -> np.ndarray:
    """Cast an integer array to native int16, refusing values out of range."""
    if arr.dtype.kind == "i" and arr.dtype.itemsize == 2:
        return arr.astype(np.int16)  # a copy, also fixes a big-endian byte order
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < _INT16_MIN or high > _INT16_MAX:
            raise ValueError(
                f"integer samples must lie in [-32768, 32767] to be pcm16; got values "
                f"from {low} to {high} (dtype {arr.dtype}). Scale them first, or pass "
                f"floats in [-1, 1]."
            )
    return arr.astype(np.int16)


def to_pcm16(samples: AudioLike) -> np.ndarray:
    """Convert audio in any common shape to a new 1-D native ``int16`` array.

    Accepted inputs:

    * a 1-D numpy integer array: int16 of either byte order is copied as is;
      other integer dtypes are cast when every value fits in int16;
    * a 1-D numpy float array: samples in ``[-1, 1]``, converted by
      :func:`float_to_pcm16` (values outside are clipped);
    * ``bytes`` / ``bytearray`` / ``memoryview``: pcm16 little-endian bytes (an
      odd trailing byte is dropped);
    * a list, tuple or ``array.array`` of ints (taken as int16 values) or of
      floats (taken as ``[-1, 1]`` samples).

    The result never shares memory with the input.

    Raises:
        TypeError: the input is of another type (for example ``str``: base64
            text goes through :func:`base64_to_pcm16`), or has a bool, complex
            or object dtype.
        ValueError: the array is not 1-D, or integer values do not fit in int16.
    """
    if isinstance(samples, (bytes, bytearray, memoryview)):
        return _bytes_to_pcm16(samples)
    if isinstance(samples, str):
        raise TypeError(
            "to_pcm16() got a str; decode base64 audio with base64_to_pcm16() or decode_audio()"
        )
    if isinstance(samples, (list, tuple)):
        arr = np.asarray(samples)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int16)
    elif isinstance(samples, array.array):
        arr = np.asarray(samples)  # its values, like a list ("h" is int16, "f" float)
    elif isinstance(samples, np.ndarray):
        arr = samples
    else:
        raise TypeError(
            "expected a numpy array, bytes-like pcm16 or a list of samples, got "
            f"{type(samples).__name__}"
        )
    if arr.ndim != 1:
        raise ValueError(
            f"expected mono audio as a 1-D array, got an array of shape {arr.shape}; "
            "mix channels down first (for example arr.mean(axis=1))"
        )
    kind = arr.dtype.kind
    if kind in "iu":
        return _int_array_to_int16(arr)
    if kind == "f":
        return float_to_pcm16(arr)
    raise TypeError(f"cannot convert samples of dtype {arr.dtype} to pcm16")


def float_to_pcm16(x: Any) -> np.ndarray:
    """Convert float samples in ``[-1, 1]`` to int16 (any shape, new array).

    ``int16 = clip(rint(x * 32768), -32768, 32767)``: values outside
    ``[-1, 1]`` are clipped (``1.0`` itself becomes ``32767``), infinities
    clip to the limits and NaN becomes 0.

    Args:
        x: the float samples (an array, list or scalar; ints are taken as
            floats too).

    Raises:
        TypeError: the input is not real numbers.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"float_to_pcm16() needs real numbers, got dtype {arr.dtype}")
    work = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64)
    work *= 32768.0
    np.rint(work, out=work)
    np.clip(work, _INT16_MIN, _INT16_MAX, out=work)
    if not np.isfinite(work).all():  # only NaN is left after the clip
        np.nan_to_num(work, copy=False, nan=0.0)
    return work.astype(np.int16)


def pcm16_to_float(samples: AudioLike) -> np.ndarray:
    """Convert pcm16 samples to float32 in ``[-1, 1)``: ``x = int16 / 32768``.

    Accepts what :func:`to_pcm16` accepts except floats (converting float
    audio "from pcm16" is almost always a mistake, so it is refused).

    Raises:
        TypeError: float input, or a type :func:`to_pcm16` refuses.
        ValueError: as :func:`to_pcm16`.
    """
    if isinstance(samples, (list, tuple, array.array, np.ndarray)) and (
        np.asarray(samples).dtype.kind == "f"
    ):
        raise TypeError("pcm16_to_float() expects int16 samples or pcm16 bytes, got floats")
    out = _pcm16_view(samples).astype(np.float32)
    out *= np.float32(1.0 / 32768.0)
    return out


def _pcm16_view(samples: AudioLike) -> np.ndarray:
    """Like :func:`to_pcm16`, but returns a native 1-D int16 array unchanged (no copy)."""
    if (
        isinstance(samples, np.ndarray)
        and samples.ndim == 1
        and samples.dtype == np.int16
        and samples.dtype.isnative
    ):
        return samples
    return to_pcm16(samples)


def pcm16_to_base64(samples: AudioLike) -> str:
    """Encode samples as base64 text of pcm16 little-endian bytes.

    ``samples`` is anything :func:`to_pcm16` accepts (normally an int16 array).
    """
    pcm = _pcm16_view(samples)
    return base64.b64encode(pcm.astype(_PCM16_LE, copy=False).tobytes()).decode("ascii")


def _b64decode(text: Union[str, bytes, bytearray]) -> bytes:
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected base64 text (str or bytes), got {type(text).__name__}")
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 audio: {exc}") from None


def base64_to_pcm16(text: Union[str, bytes, bytearray]) -> np.ndarray:
    """Decode base64 text of pcm16 little-endian bytes to a new int16 array.

    An odd trailing byte (half a sample) is dropped.

    Raises:
        TypeError: ``text`` is not str or bytes.
        ValueError: ``text`` is not valid base64.
    """
    return _bytes_to_pcm16(_b64decode(text))


def encode_audio(samples: AudioLike, audio_format: str = "pcm16") -> str:
    """Encode samples as base64 text of the wire bytes of ``audio_format``.

    ``samples`` (anything :func:`to_pcm16` accepts) must already be at the
    format's sample rate (:func:`sample_rate`); use :func:`resample` first if
    not. For G.711 each sample becomes one byte.

    Raises:
        ConfigurationError: unknown ``audio_format``.
        TypeError, ValueError: as :func:`to_pcm16`.
    """
    _check_format(audio_format)
    if audio_format == "pcm16":
        return pcm16_to_base64(samples)
    pcm = _pcm16_view(samples)
    data = ulaw_encode(pcm) if audio_format == "g711_ulaw" else alaw_encode(pcm)
    return base64.b64encode(data).decode("ascii")


def decode_audio(text: Union[str, bytes, bytearray], audio_format: str = "pcm16") -> np.ndarray:
    """Decode base64 wire audio of ``audio_format`` to a new int16 array.

    The samples stay at the format's rate (24 kHz pcm16, 8 kHz G.711).

    Raises:
        ConfigurationError: unknown ``audio_format``.
        ValueError: ``text`` is not valid base64.
    """
    if audio_format == "pcm16":
        if text.__class__ is str:
            # The hot path (every response.audio.delta): one base64 pass, one copy.
            try:
                data = _a2b_base64(text)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"invalid base64 audio: {exc}") from None
            if _NATIVE_LE and not len(data) & 1:
                return np.frombuffer(bytearray(data), dtype=np.int16)
            return _pcm16_from_decoded(data)
        return base64_to_pcm16(text)
    _check_format(audio_format)
    data = _b64decode(text)
    return ulaw_decode(data) if audio_format == "g711_ulaw" else alaw_decode(data)


# --------------------------------------------------------------------------
# G.711 (mu-law and A-law)
#
# The classic Sun Microsystems reference code (g711.c), as CPython's audioop
# used it at width 2: mu-law encodes the top 14 bits of a sample, A-law the
# top 13. Both directions are table lookups: the encoders index a 65536-entry
# table with the sample's bit pattern, the decoders a 256-entry one. The
# tables are computed once at import, vectorised, from the reference formulas.

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84


def _build_ulaw_encode_table() -> np.ndarray:
    value = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    value >>= 2  # 14-bit
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.abs(value) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    in_range = seg < 8
    seg_c = np.minimum(seg, 7)
    code = (seg_c << 4) | ((magnitude >> (seg_c + 1)) & 0x0F)
    code = np.where(in_range, code, 0x7F)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode_table() -> np.ndarray:
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_encode_table() -> np.ndarray:
    value = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    value >>= 3  # 13-bit
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    in_range = seg < 8
    seg_c = np.minimum(seg, 7)
    shift = np.where(seg_c < 2, 1, seg_c)
    code = (seg_c << 4) | ((magnitude >> shift) & 0x0F)
    code = np.where(in_range, code, 0x7F)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()
_ALAW_ENCODE = _build_alaw_encode_table()
_ALAW_DECODE = _build_alaw_decode_table()
for _table in (_ULAW_ENCODE, _ULAW_DECODE, _ALAW_ENCODE, _ALAW_DECODE):
    _table.flags.writeable = False
del _table


def _g711_codes(data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.ndim != 1 or data.dtype != np.uint8:
            raise TypeError(
                f"G.711 codes must be bytes or a 1-D uint8 array, got {data.dtype} "
                f"array of shape {data.shape}"
            )
        return data
    if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"G.711 codes must be bytes-like, got {type(data).__name__} "
            "(decode base64 text with decode_audio())"
        )
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return np.frombuffer(view.cast("B"), dtype=np.uint8)


def ulaw_encode(samples: AudioLike) -> bytes:
    """Encode int16 samples as G.711 mu-law bytes, one byte per sample.

    Bit-exact with ``audioop.lin2ulaw(pcm_bytes, 2)``. ``samples`` is anything
    :func:`to_pcm16` accepts.
    """
    pcm = _pcm16_view(samples)
    return _ULAW_ENCODE[pcm.view(np.uint16)].tobytes()


def ulaw_decode(data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    """Decode G.711 mu-law bytes to a new int16 array.

    Bit-exact with ``audioop.ulaw2lin(data, 2)``. ``data`` is bytes-like or a
    1-D uint8 array.

    Raises:
        TypeError: ``data`` is not bytes-like (for example base64 ``str``).
    """
    return _ULAW_DECODE[_g711_codes(data)]


def alaw_encode(samples: AudioLike) -> bytes:
    """Encode int16 samples as G.711 A-law bytes, one byte per sample.

    Bit-exact with ``audioop.lin2alaw(pcm_bytes, 2)``. ``samples`` is anything
    :func:`to_pcm16` accepts.
    """
    pcm = _pcm16_view(samples)
    return _ALAW_ENCODE[pcm.view(np.uint16)].tobytes()


def alaw_decode(data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    """Decode G.711 A-law bytes to a new int16 array.

    Bit-exact with ``audioop.alaw2lin(data, 2)``. ``data`` is bytes-like or a
    1-D uint8 array.

    Raises:
        TypeError: ``data`` is not bytes-like (for example base64 ``str``).
    """
    return _ALAW_DECODE[_g711_codes(data)]


# --------------------------------------------------------------------------
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


def _check_rate(rate: Any, name: str) -> int:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ConfigurationError(f"{name} must be a positive number of Hz, got {rate!r}")
    if not np.isfinite(rate) or rate <= 0 or int(rate) != rate:
        raise ConfigurationError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


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
    ext = 2.0 * last - x[::-1][1 : 1 + avail]
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
        return np.einsum("ij,ij->i", windows[bases + first], taps[phases])
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
    return _pcm16_view(samples).astype(np.float64), True


def _finish(y: np.ndarray, integer: bool) -> np.ndarray:
    if not integer:
        return y.astype(np.float32)
    np.rint(y, out=y)
    np.clip(y, _INT16_MIN, _INT16_MAX, out=y)
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
        return _finish(x.copy(), integer) if not integer else _pcm16_view(samples).copy()
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
    f = _check_rate(from_rate, "from_rate")
    t = _check_rate(to_rate, "to_rate")
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
        self.from_rate = _check_rate(from_rate, "from_rate")
        self.to_rate = _check_rate(to_rate, "to_rate")
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


# --------------------------------------------------------------------------
# WAV files

#: A file name, or a binary file object (``open(..., "rb"/"wb")``, ``io.BytesIO``).
WavTarget = Union[str, "os.PathLike[str]", IO[bytes]]

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def _frames_to_float(raw: bytes, width: int, is_float: bool) -> np.ndarray:
    """Decode interleaved little-endian samples to float64 at int16 scale."""
    if is_float:
        if width not in (4, 8):
            raise ConfigurationError(f"unsupported float WAV sample width: {width * 8} bits")
        data = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8", count=len(raw) // width)
        return data.astype(np.float64) * 32768.0
    if width == 1:  # unsigned 8-bit, centred on 128
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2", count=len(raw) // 2).astype(np.float64)
    if width == 3:
        count = len(raw) // 3
        b = np.frombuffer(raw, dtype=np.uint8, count=count * 3).reshape(count, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / 256.0
    if width == 4:
        return np.frombuffer(raw, dtype="<i4", count=len(raw) // 4).astype(np.float64) / 65536.0
    raise ConfigurationError(f"unsupported WAV sample width: {width * 8} bits")


def _mix_to_int16(values: np.ndarray, channels: int) -> np.ndarray:
    """Average interleaved channels (float64, int16 scale) to mono int16."""
    frames = len(values) // channels
    values = values[: frames * channels]
    if channels > 1:
        values = values.reshape(frames, channels).mean(axis=1)
    values = np.rint(values)
    np.clip(values, _INT16_MIN, _INT16_MAX, out=values)
    return values.astype(np.int16)


def _parse_riff(data: bytes) -> "tuple[int, int, int, int, bytes]":
    """Minimal RIFF/WAVE parser: (format tag, channels, rate, sample width, data bytes).

    Used for the formats the ``wave`` module refuses (IEEE float, and
    WAVE_FORMAT_EXTENSIBLE before Python 3.12).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ConfigurationError("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt = None
    payload = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)  # first field of the sub-format GUID
            fmt = (tag, channels, rate, (bits + 7) // 8)
        elif chunk_id == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise ConfigurationError("malformed WAV file: missing fmt or data chunk")
    return fmt[0], fmt[1], fmt[2], fmt[3], payload


def read_wav(path: WavTarget) -> "tuple[np.ndarray, int]":
    """Read a WAV file as mono int16 samples and its sample rate in Hz.

    Reads PCM with 8, 16, 24 or 32-bit samples and IEEE float (32/64-bit),
    including WAVE_FORMAT_EXTENSIBLE files. Samples wider than 16 bits are
    rounded to 16 bits; several channels are mixed down to mono by averaging.
    The sample rate is returned as stored: resample with :func:`resample`.

    Args:
        path: a file name or path, or a binary file object open for reading.

    Raises:
        ConfigurationError: not a WAV file, or an encoding this function does not
            read (compressed formats such as ADPCM or G.711 WAV, odd sample widths).
        OSError: the file cannot be opened.
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "rb") as handle:
            data = handle.read()
    else:
        data = path.read()
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
        is_float = False
    except (wave.Error, EOFError) as exc:
        try:
            tag, channels, rate, width, raw = _parse_riff(data)
        except ConfigurationError:
            raise ConfigurationError(f"cannot read WAV data: {exc}") from None
        if tag not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_IEEE_FLOAT):
            raise ConfigurationError(
                f"unsupported WAV encoding (format tag 0x{tag:04x}); only PCM and IEEE "
                "float are read"
            ) from None
        is_float = tag == _WAVE_FORMAT_IEEE_FLOAT
    logger.debug(
        "read_wav: %d channel(s), %d-bit %s, %d Hz, %d bytes of samples",
        channels,
        width * 8,
        "float" if is_float else "PCM",
        rate,
        len(raw),
    )
    if channels < 1:
        raise ConfigurationError(f"malformed WAV file: {channels} channels")
    if rate <= 0:
        raise ConfigurationError(f"malformed WAV file: sample rate {rate}")
    if width == 2 and channels == 1 and not is_float:
        samples = np.frombuffer(raw, dtype="<i2", count=len(raw) // 2).astype(np.int16)
    else:
        values = _frames_to_float(raw, width, is_float)
        samples = _mix_to_int16(values, channels)
    return samples, int(rate)


def write_wav(path: WavTarget, samples: AudioLike, rate: int) -> None:
    """Write mono samples as a 16-bit PCM WAV file.

    Args:
        path: a file name or path, or a binary file object open for writing
            (it is left open; it need not be seekable).
        samples: anything :func:`to_pcm16` accepts (floats are taken as ``[-1, 1]``).
        rate: the sample rate in Hz, for example ``24000``.

    Raises:
        ConfigurationError: ``rate`` is not a positive whole number.
        TypeError, ValueError: as :func:`to_pcm16`.
        OSError: the file cannot be written.
    """
    rate = _check_rate(rate, "rate")
    pcm = _pcm16_view(samples)
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "wb") as handle:
            _write_wav_to(handle, pcm, rate)
    else:
        _write_wav_to(path, pcm, rate)


def _write_wav_to(handle: IO[bytes], pcm: np.ndarray, rate: int) -> None:
    with wave.open(handle, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.setnframes(len(pcm))  # header right first time: no seek needed
        writer.writeframes(pcm.astype(_PCM16_LE, copy=False).tobytes())
