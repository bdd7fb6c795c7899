"""WAV files: :func:`read_wav` and :func:`write_wav` (private).

See :mod:`realtime_sync.audio` for the public names.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import wave
from typing import IO, Union

import numpy as np

from ..errors import ConfigurationError
from ._pcm import INT16_MAX, INT16_MIN, PCM16_LE, AudioLike, check_rate, pcm16_view

__all__ = ["WavTarget", "read_wav", "write_wav"]

logger = logging.getLogger(__name__)


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
    np.clip(values, INT16_MIN, INT16_MAX, out=values)
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
