"""G.711 mu-law and A-law, bit-exact with the classic reference code (private).

See :mod:`realtime_sync.audio` for the public names.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from ._pcm import AudioLike, pcm16_view

__all__ = ["ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode"]

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


def _encode(table: np.ndarray, samples: AudioLike) -> bytes:
    """int16 samples to one G.711 byte each, through a 65536-entry ``table``."""
    return table[pcm16_view(samples).view(np.uint16)].tobytes()


def _decode(table: np.ndarray, data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    """G.711 bytes to a new int16 array, through a 256-entry ``table``."""
    return np.take(table, _g711_codes(data))


def ulaw_encode(samples: AudioLike) -> bytes:
    """Encode int16 samples as G.711 mu-law bytes, one byte per sample.

    Bit-exact with ``audioop.lin2ulaw(pcm_bytes, 2)``. ``samples`` is anything
    :func:`to_pcm16` accepts.
    """
    return _encode(_ULAW_ENCODE, samples)


def ulaw_decode(data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    """Decode G.711 mu-law bytes to a new int16 array.

    Bit-exact with ``audioop.ulaw2lin(data, 2)``. ``data`` is bytes-like or a
    1-D uint8 array.

    Raises:
        TypeError: ``data`` is not bytes-like (for example base64 ``str``).
    """
    return _decode(_ULAW_DECODE, data)


def alaw_encode(samples: AudioLike) -> bytes:
    """:func:`ulaw_encode` for G.711 A-law (bit-exact with ``audioop.lin2alaw(pcm_bytes, 2)``)."""
    return _encode(_ALAW_ENCODE, samples)


def alaw_decode(data: Union[bytes, bytearray, memoryview, np.ndarray]) -> np.ndarray:
    """:func:`ulaw_decode` for G.711 A-law (bit-exact with ``audioop.alaw2lin(data, 2)``); TypeError likewise."""
    return _decode(_ALAW_DECODE, data)
