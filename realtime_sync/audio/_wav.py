"""WAV files: :func:`read_wav` and :func:`write_wav` (private).

See :mod:`realtime_sync.audio` for the public names.
"""

from __future__ import annotations

import logging
import os
import struct
import wave
from typing import IO, NamedTuple, Optional, Union

import numpy as np

from ..errors import AudioFormatError
from ._pcm import INT16_MAX, INT16_MIN, PCM16_LE, AudioLike, check_rate, pcm16_view

__all__ = ["WavTarget", "read_wav", "write_wav"]

logger = logging.getLogger(__name__)


#: A file name, or a binary file object (``open(..., "rb"/"wb")``, ``io.BytesIO``).
WavTarget = Union[str, "os.PathLike[str]", IO[bytes]]

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_INT_WIDTHS = (1, 2, 3, 4)  # bytes per PCM sample read
_FLOAT_WIDTHS = (4, 8)


class _Format(NamedTuple):
    """The fields of a ``fmt `` chunk that reading needs."""

    tag: int  # _WAVE_FORMAT_PCM or _WAVE_FORMAT_IEEE_FLOAT (the sub-format, for EXTENSIBLE)
    channels: int
    rate: int
    width: int  # bytes per sample: ceil(bits / 8)


def _parse_fmt(body: bytes) -> _Format:
    if len(body) < 16:
        raise AudioFormatError(f"malformed WAV file: the fmt chunk has {len(body)} bytes, at least 16 are needed")
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 26:
            raise AudioFormatError("malformed WAV file: the extensible fmt chunk has no sub-format")
        (tag,) = struct.unpack_from("<H", body, 24)  # first field of the sub-format GUID
    if tag not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_IEEE_FLOAT):
        raise AudioFormatError(
            f"unsupported WAV encoding (format tag 0x{tag:04x}); only PCM and IEEE float are read"
        )
    if channels < 1:
        raise AudioFormatError(f"malformed WAV file: {channels} channels")
    if rate < 1:
        raise AudioFormatError(f"malformed WAV file: sample rate {rate}")
    width = (bits + 7) // 8
    if tag == _WAVE_FORMAT_IEEE_FLOAT and width not in _FLOAT_WIDTHS:
        raise AudioFormatError(f"unsupported float WAV sample width: {bits} bits (32 and 64 are read)")
    if tag == _WAVE_FORMAT_PCM and width not in _INT_WIDTHS:
        raise AudioFormatError(f"unsupported WAV sample width: {bits} bits (8 to 32 are read)")
    return _Format(tag, channels, rate, width)


def _parse_riff(data: bytes) -> "tuple[_Format, memoryview]":
    """Parse RIFF/WAVE bytes into their format and a view of the sample bytes.

    Every field is checked against the bytes that are there: a chunk that
    declares more than the file holds is cut at the end of the file (streaming
    writers leave the ``data`` size at 0xFFFFFFFF), chunks in any order are
    found, unknown chunks are skipped, and whatever is wrong raises
    :class:`AudioFormatError`.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    view = memoryview(data)
    pos = 12
    fmt: Optional[_Format] = None
    payload: Optional[memoryview] = None
    while pos + 8 <= len(data) and (fmt is None or payload is None):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = view[pos + 8 : pos + 8 + size]  # cut at the end of the file
        if chunk_id == b"fmt " and fmt is None:
            if size > len(body):
                raise AudioFormatError(
                    f"malformed WAV file: the fmt chunk declares {size} bytes but the file ends after {len(body)}"
                )
            fmt = _parse_fmt(bytes(body))
        elif chunk_id == b"data" and payload is None:
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFormatError("malformed WAV file: no fmt chunk")
    if payload is None:
        raise AudioFormatError("malformed WAV file: no data chunk")
    return fmt, payload


def _frames_to_float(raw: memoryview, width: int, is_float: bool) -> np.ndarray:
    """Decode interleaved little-endian samples to float64 at int16 scale (NaN becomes 0)."""
    if is_float:
        data = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8", count=len(raw) // width)
        values = data.astype(np.float64)
        np.nan_to_num(values, copy=False, nan=0.0)  # NaN is silence
        np.clip(values, -1e6, 1e6, out=values)  # far past full scale (clipped to int16 later), and finite
        values *= 32768.0
        return values
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
    return np.frombuffer(raw, dtype="<i4", count=len(raw) // 4).astype(np.float64) / 65536.0


def _mix_to_int16(values: np.ndarray, channels: int) -> np.ndarray:
    """Average interleaved channels (float64, int16 scale) to mono int16."""
    frames = len(values) // channels
    values = values[: frames * channels]
    if channels > 1:
        values = values.reshape(frames, channels).mean(axis=1)
    values = np.rint(values)
    np.clip(values, INT16_MIN, INT16_MAX, out=values)
    return values.astype(np.int16)


def read_wav(path: WavTarget) -> "tuple[np.ndarray, int]":
    """Read a WAV file as mono int16 samples and its sample rate in Hz.

    Reads PCM with 8, 16, 24 or 32-bit samples and IEEE float (32/64-bit),
    including WAVE_FORMAT_EXTENSIBLE files. Samples wider than 16 bits are
    rounded to 16 bits; float samples outside ``[-1, 1]`` are clipped (NaN
    reads as 0); several channels are mixed down to mono by averaging, and a partial
    last frame is dropped. A ``data`` chunk that declares more bytes than the
    file holds (as streaming writers leave it) is read up to the end of the
    file. The sample rate is returned as stored: resample with :func:`resample`.

    Args:
        path: a file name or path, or a binary file object open for reading.

    Raises:
        AudioFormatError: the data is not a WAV file, is malformed (a chunk
            that overruns the file, no ``fmt`` or ``data`` chunk, zero
            channels or rate...), or uses an encoding this function does not
            read (compressed formats such as ADPCM or G.711 WAV, odd sample
            widths). It is a ``ConfigurationError``, so also a ``ValueError``;
            nothing else escapes for bad file contents.
        OSError: the file cannot be opened or read.
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "rb") as handle:
            data = handle.read()
    else:
        data = path.read()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"read_wav() needs a binary file, but read() returned {type(data).__name__}")
    fmt, raw = _parse_riff(bytes(data))
    is_float = fmt.tag == _WAVE_FORMAT_IEEE_FLOAT
    logger.debug(
        "read_wav: %d channel(s), %d-bit %s, %d Hz, %d bytes of samples",
        fmt.channels,
        fmt.width * 8,
        "float" if is_float else "PCM",
        fmt.rate,
        len(raw),
    )
    if fmt.width == 2 and fmt.channels == 1 and not is_float:
        samples = np.frombuffer(raw, dtype="<i2", count=len(raw) // 2).astype(np.int16)
    else:
        usable = len(raw) - len(raw) % fmt.width
        samples = _mix_to_int16(_frames_to_float(raw[:usable], fmt.width, is_float), fmt.channels)
    return samples, int(fmt.rate)


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
    rate = check_rate(rate, "rate")
    pcm = pcm16_view(samples)
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
        writer.writeframes(pcm.astype(PCM16_LE, copy=False).tobytes())
