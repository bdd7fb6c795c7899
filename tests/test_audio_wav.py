"""read_wav on hostile input: malformed files raise AudioFormatError and nothing else.

A seeded fuzzer mutates a corpus of valid WAV files (every encoding read_wav
reads) the ways broken writers and attackers do: flipped bytes, truncation,
chunk sizes that overrun the file or wrap, zero or huge channel counts and
widths, NaN floats, chunks repeated, dropped or reordered. Whatever comes in,
read_wav returns mono int16 samples and a positive rate, or raises
:class:`AudioFormatError` (a ``ConfigurationError``, so a ``ValueError``):
never ``struct.error``, ``RuntimeError``, ``EOFError``, a numpy error, or a
warning.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from typing import List, Optional

import numpy as np
import pytest

from realtime_sync.audio import read_wav, write_wav
from realtime_sync.errors import AudioFormatError, ConfigurationError, RealtimeError

FUZZ_CASES = 3500


def _chunk(tag: bytes, body: bytes, *, size: Optional[int] = None) -> bytes:
    declared = len(body) if size is None else size
    return tag + struct.pack("<I", declared & 0xFFFFFFFF) + body + (b"\x00" if len(body) & 1 else b"")


def _fmt(tag: int, channels: int, rate: int, bits: int, extensible_tag: Optional[int] = None) -> bytes:
    block = channels * ((bits + 7) // 8)
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if extensible_tag is not None:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        body += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", extensible_tag) + guid_tail
    return body


def _riff(*chunks: bytes, riff_size: Optional[int] = None) -> bytes:
    payload = b"WAVE" + b"".join(chunks)
    size = len(payload) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size & 0xFFFFFFFF) + payload


def _corpus() -> List[bytes]:
    rng = np.random.default_rng(12)
    pcm16 = rng.integers(-32768, 32768, 64).astype("<i2").tobytes()
    files = []
    written = io.BytesIO()
    write_wav(written, np.frombuffer(pcm16, "<i2"), 24000)
    files.append(written.getvalue())
    for tag, channels, bits, ext in (
        (1, 1, 8, None),
        (1, 2, 16, None),
        (1, 1, 24, None),
        (1, 2, 32, None),
        (3, 1, 32, None),
        (3, 2, 64, None),
        (0xFFFE, 2, 32, 3),
        (0xFFFE, 1, 16, 1),
    ):
        width = (bits + 7) // 8
        if tag == 3 or ext == 3:
            data = rng.uniform(-1, 1, 48 // width * 2).astype("<f4" if width == 4 else "<f8").tobytes()
        else:
            data = rng.integers(0, 256, 48 * channels).astype(np.uint8).tobytes()
        fmt = _chunk(b"fmt ", _fmt(tag, channels, 16000, bits, ext))
        files.append(_riff(fmt, _chunk(b"LIST", b"abc"), _chunk(b"data", data)))  # an odd chunk with its pad byte
    return files


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 6))):
        kind = rng.randrange(9)
        if kind == 0 and buf:  # flip random bytes
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif kind == 1:  # truncate anywhere, header included
            del buf[rng.randrange(len(buf) + 1) :]
        elif kind == 2 and len(buf) >= 8:  # a size field (any aligned u32) set to an edge value
            pos = rng.randrange(4, len(buf) - 3)
            value = rng.choice((0, 1, 2, 15, 16, 17, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0, len(buf), len(buf) + 1))
            struct.pack_into("<I", buf, pos, value)
        elif kind == 3 and len(buf) >= 36:  # fmt fields: channels, rate, bits
            field = rng.choice(((22, "<H"), (24, "<I"), (34, "<H"), (20, "<H"), (32, "<H")))
            value = rng.choice((0, 1, 3, 7, 9, 12, 17, 20, 40, 48, 65535, 0xFFFFFFFF))
            if field[1] == "<H":
                value &= 0xFFFF
            struct.pack_into(field[1], buf, field[0], value)
        elif kind == 4:  # insert junk
            pos = rng.randrange(len(buf) + 1)
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        elif kind == 5 and len(buf) > 12:  # duplicate a slice (repeated chunks)
            start = rng.randrange(12, len(buf))
            piece = buf[start : start + rng.randint(4, 40)]
            pos = rng.randrange(12, len(buf) + 1)
            buf[pos:pos] = piece
        elif kind == 6 and len(buf) > 12:  # delete a slice
            start = rng.randrange(12, len(buf))
            del buf[start : start + rng.randint(1, 30)]
        elif kind == 7:  # NaN / infinity samples at the end (float files)
            buf += struct.pack("<f", rng.choice((float("nan"), float("inf"), -float("inf"))))
        elif kind == 8 and len(buf) > 16:  # rename a chunk id
            pos = rng.randrange(12, len(buf) - 3)
            buf[pos : pos + 4] = rng.choice((b"fmt ", b"data", b"LIST", b"\x00\x00\x00\x00"))
    return bytes(buf)


def _check(data: bytes) -> None:
    try:
        samples, rate = read_wav(io.BytesIO(data))
    except AudioFormatError as exc:
        assert str(exc), "the error says what is wrong"
        return
    assert isinstance(samples, np.ndarray) and samples.dtype == np.int16 and samples.ndim == 1
    assert isinstance(rate, int) and rate > 0


def test_fuzzed_wavs_raise_only_audio_format_error() -> None:
    corpus = _corpus()
    for data in corpus:
        _check(data)  # the corpus itself reads
        read_wav(io.BytesIO(data))
    rng = random.Random(20261205)
    failures: List[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning (NaN cast, overflow) is a failure too
        for case in range(FUZZ_CASES):
            data = _mutate(rng.choice(corpus), rng)
            try:
                _check(data)
            except Exception as exc:  # collect a few, to see the kinds at once
                failures.append(f"case {case}: {type(exc).__name__}: {exc} <- {data[:64]!r}")
    assert not failures, f"{len(failures)} of {FUZZ_CASES} escaped:\n" + "\n".join(failures[:10])


@pytest.mark.parametrize(
    "data, words",
    [
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 16), size=200), _chunk(b"data", b"\x00\x00")), "fmt"),  # overruns the file
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 16)[:10]), _chunk(b"data", b"\x00\x00")), "fmt"),  # too short
        (_riff(_chunk(b"fmt ", _fmt(1, 0, 8000, 16)), _chunk(b"data", b"\x00\x00")), "channels"),
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 0, 16)), _chunk(b"data", b"\x00\x00")), "sample rate"),
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 0)), _chunk(b"data", b"\x00\x00")), "sample width"),
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 40)), _chunk(b"data", b"\x00" * 10)), "sample width"),
        (_riff(_chunk(b"fmt ", _fmt(3, 1, 8000, 16)), _chunk(b"data", b"\x00\x00")), "float"),
        (_riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 16))), "data"),  # no data chunk
        (_riff(_chunk(b"data", b"\x00\x00")), "fmt"),  # no fmt chunk
        (b"RIFF\x04\x00\x00\x00WAV", "RIFF"),  # truncated header
        (b"RIFX" + b"\x00" * 40, "RIFF"),  # big-endian RIFX is not read
        (b"", "RIFF"),
    ],
)
def test_malformed_wavs_say_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(AudioFormatError, match=words) as info:
        read_wav(io.BytesIO(data))
    error = info.value
    assert isinstance(error, ConfigurationError) and isinstance(error, ValueError) and isinstance(error, RealtimeError)


def test_data_chunk_shorter_than_declared_reads_what_is_there() -> None:
    """Streaming writers leave the data size at 0 or 0xFFFFFFFF: read the bytes that are present."""
    samples = np.array([1, -2, 3, -4], "<i2").tobytes()
    for declared in (0xFFFFFFFF, 0xFFFFFFF0, 1000):
        data = _riff(_chunk(b"fmt ", _fmt(1, 1, 8000, 16)), _chunk(b"data", samples, size=declared))
        out, rate = read_wav(io.BytesIO(data))
        assert rate == 8000
        np.testing.assert_array_equal(out, [1, -2, 3, -4])
    odd = _riff(_chunk(b"fmt ", _fmt(1, 2, 8000, 16)), _chunk(b"data", samples + b"\x07"))
    np.testing.assert_array_equal(read_wav(io.BytesIO(odd))[0], [0, 0])  # a partial frame is dropped


def test_nan_and_infinite_float_samples_become_silence_and_full_scale() -> None:
    values = np.array([np.nan, np.inf, -np.inf, 0.5], "<f4").tobytes()
    data = _riff(_chunk(b"fmt ", _fmt(3, 1, 8000, 32)), _chunk(b"data", values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = read_wav(io.BytesIO(data))
    np.testing.assert_array_equal(out, [0, 32767, -32768, 16384])
