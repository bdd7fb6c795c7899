"""Tests for realtime_sync.audio: base64, float<->int16, G.711, resampling, WAV."""

from __future__ import annotations

import array
import base64
import io
import struct
import sys
import warnings
import wave
from types import ModuleType
from typing import Any, Callable, List, Optional

import numpy as np
import pytest

from realtime_sync import audio
from realtime_sync.audio import (
    AUDIO_FORMATS,
    Resampler,
    alaw_decode,
    alaw_encode,
    base64_to_pcm16,
    decode_audio,
    encode_audio,
    float_to_pcm16,
    pcm16_to_base64,
    pcm16_to_float,
    read_wav,
    resample,
    sample_rate,
    to_pcm16,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)
from realtime_sync.errors import ConfigurationError

audioop: Optional[ModuleType]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # removed in Python 3.13
    except ImportError:
        audioop = None

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
needs_audioop = pytest.mark.skipif(
    audioop is None, reason="audioop was removed in Python 3.13; the scalar reference port covers it"
)


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(test, dtype=np.float64)
    return float(10 * np.log10(np.sum(ref * ref) / max(np.sum(err * err), 1e-300)))


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(rate * seconds))) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


# --------------------------------------------------------------------------
# module surface


CONTRACT_NAMES = [
    "pcm16_to_base64",
    "base64_to_pcm16",
    "float_to_pcm16",
    "pcm16_to_float",
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "resample",
    "read_wav",
    "write_wav",
    "AUDIO_FORMATS",
    "sample_rate",
    "encode_audio",
    "decode_audio",
    "to_pcm16",
]


def test_all_lists_the_contract_names_and_they_exist() -> None:
    for name in CONTRACT_NAMES:
        assert name in audio.__all__
    for name in audio.__all__:
        obj = getattr(audio, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name


def test_audio_formats_and_rates() -> None:
    assert AUDIO_FORMATS == ("pcm16", "g711_ulaw", "g711_alaw")
    assert sample_rate("pcm16") == 24000
    assert sample_rate("g711_ulaw") == 8000
    assert sample_rate("g711_alaw") == 8000


@pytest.mark.parametrize("bad", ["pcm24", "PCM16", "", None, 16])
def test_sample_rate_unknown_format(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="unknown audio format"):
        sample_rate(bad)


# --------------------------------------------------------------------------
# base64 <-> pcm16


def test_pcm16_to_base64_known_bytes() -> None:
    values = [0, 1, -1, 32767, -32768]
    expected = base64.b64encode(struct.pack("<5h", *values)).decode("ascii")
    assert expected == "AAABAP///38AgA=="
    assert pcm16_to_base64(np.array(values, dtype=np.int16)) == expected
    # big-endian input arrays give the same little-endian wire bytes
    assert pcm16_to_base64(np.array(values, dtype=">i2")) == expected
    assert pcm16_to_base64(values) == expected
    assert pcm16_to_base64(struct.pack("<5h", *values)) == expected


def test_base64_round_trip_random_and_all_values() -> None:
    rng = np.random.default_rng(7)
    samples = rng.integers(-32768, 32768, size=4801).astype(np.int16)
    text = pcm16_to_base64(samples)
    assert isinstance(text, str)
    back = base64_to_pcm16(text)
    assert back.dtype == np.int16 and back.dtype.isnative
    np.testing.assert_array_equal(back, samples)
    np.testing.assert_array_equal(base64_to_pcm16(pcm16_to_base64(ALL_INT16)), ALL_INT16)


def test_base64_to_pcm16_is_little_endian_and_writable() -> None:
    out = base64_to_pcm16(base64.b64encode(b"\x01\x02\xff\x7f"))  # bytes input accepted
    np.testing.assert_array_equal(out, [0x0201, 0x7FFF])
    out[0] = 5  # a fresh array, not a read-only view of the decoded bytes
    assert out[0] == 5


def test_base64_to_pcm16_odd_byte_dropped() -> None:
    text = base64.b64encode(b"\x10\x00\x20\x00\x7f").decode()
    np.testing.assert_array_equal(base64_to_pcm16(text), [16, 32])
    assert len(base64_to_pcm16(base64.b64encode(b"\x01").decode())) == 0


def test_base64_empty() -> None:
    assert pcm16_to_base64(np.zeros(0, dtype=np.int16)) == ""
    out = base64_to_pcm16("")
    assert out.dtype == np.int16 and out.shape == (0,)


def test_base64_errors() -> None:
    with pytest.raises(ValueError, match="invalid base64"):
        base64_to_pcm16("abc")  # bad padding
    with pytest.raises(TypeError):
        base64_to_pcm16(12345)  # type: ignore[arg-type]


def test_pcm16_to_base64_reads_any_layout() -> None:
    """Strided and big-endian arrays, and memoryviews, give the bytes of their values (read in place otherwise)."""
    samples = np.random.default_rng(11).integers(-32768, 32768, 1001).astype(np.int16)
    for view in (samples[::3], samples[::-1], samples.astype(">i2")[5:], memoryview(samples.astype("<i2").tobytes())):
        values = to_pcm16(view)
        assert pcm16_to_base64(view) == base64.b64encode(values.astype("<i2").tobytes()).decode("ascii")


def _base64_corpus() -> List[str]:
    """Valid base64 of every length mod 3, and mangled variants (bad padding, junk, non-ASCII...)."""
    rng = np.random.default_rng(21)
    texts = []
    for n in (0, 1, 2, 3, 4, 5, 479, 480, 960, 4801):
        text = base64.b64encode(rng.integers(0, 256, n, dtype=np.uint8).tobytes()).decode("ascii")
        texts.append(text)
        if text:
            cut = int(rng.integers(0, len(text)))
            texts += [text[:cut], text + "=", "=" + text, text[:cut] + "\n" + text[cut:], text[:cut] + "!*" + text[cut:]]
            texts += [text[:cut] + "-_" + text[cut:], text[:cut] + "=" + text[cut:], text.rstrip("=")]
    texts += ["====", "A===", "AA==AA==", "\u00e9AAA", " ", "AB CD"]
    return texts


def _outcome(decode: Callable[[str], Any], text: str) -> Any:
    try:
        return bytes(decode(text))
    except ValueError as exc:  # binascii.Error is a ValueError
        return type(exc).__name__


def test_base64_backends_agree_on_text_and_errors() -> None:
    """The stdlib path and the pybase64 one (the ``fast`` extra) give the same text, bytes and errors."""
    from realtime_sync.audio import _wire

    pybase64 = pytest.importorskip("pybase64", reason="the fast extra (pybase64) is not installed")
    assert audio.BASE64_BACKEND == "pybase64"
    for n in (0, 1, 2, 3, 480, 4801):
        samples = np.random.default_rng(n).integers(-32768, 32768, n).astype(np.int16)
        assert pybase64.b64encode_as_string(samples) == _wire._stdlib_encode(samples)
    for text in _base64_corpus():
        expected = _outcome(base64.b64decode, text)
        assert _outcome(_wire._stdlib_decode, text) == expected, text
        # plain base64 through pybase64, anything else (padding inside, junk) through binascii
        assert _outcome(_wire._fast_decode_writable, text) == expected, text
        assert _outcome(_wire._fast_decode, text) == expected, text


def test_pybase64_without_the_calls_used_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_sync.audio import _wire

    monkeypatch.setitem(sys.modules, "pybase64", ModuleType("pybase64"))  # an old release: no *_as_string
    assert _wire._optional_pybase64() is None
    monkeypatch.setitem(sys.modules, "pybase64", None)  # not installed
    assert _wire._optional_pybase64() is None


def test_base64_backend_is_named() -> None:
    try:
        import pybase64  # noqa: F401
    except ImportError:
        assert audio.BASE64_BACKEND == "stdlib"
    else:
        assert audio.BASE64_BACKEND == "pybase64"
    for text in _base64_corpus():  # whichever is in use behaves as base64.b64decode
        expected = _outcome(base64.b64decode, text)
        got = _outcome(lambda t: base64_to_pcm16(t).astype("<i2").tobytes(), text)
        if isinstance(expected, bytes):
            assert got == expected[: len(expected) // 2 * 2], text
        else:
            assert got == "ValueError", text


# --------------------------------------------------------------------------
# float <-> int16


def test_float_to_pcm16_scaling_and_clipping() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -7.0, 1 / 32768, 0.49 / 32768, -1e9], np.float32)
    out = float_to_pcm16(x)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, [0, 16384, -16384, 32767, -32768, 32767, -32768, 1, 0, -32768])


def test_float_to_pcm16_non_finite() -> None:
    out = float_to_pcm16(np.array([np.nan, np.inf, -np.inf, 0.25]))
    np.testing.assert_array_equal(out, [0, 32767, -32768, 8192])


def test_float_to_pcm16_accepts_lists_and_float64_and_keeps_shape() -> None:
    np.testing.assert_array_equal(float_to_pcm16([0.0, -0.25]), [0, -8192])
    assert float_to_pcm16(np.zeros((2, 3))).shape == (2, 3)
    assert float_to_pcm16(np.zeros(0)).shape == (0,)
    with pytest.raises(TypeError):
        float_to_pcm16(np.array(["a"]))


def test_pcm16_to_float_values() -> None:
    out = pcm16_to_float(np.array([-32768, 0, 16384, 32767], dtype=np.int16))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([-1.0, 0.0, 0.5, 32767 / 32768], np.float32))
    np.testing.assert_array_equal(pcm16_to_float(struct.pack("<2h", -16384, 1)), [-0.5, 1 / 32768])
    with pytest.raises(TypeError, match="floats"):
        pcm16_to_float(np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError):
        pcm16_to_float([0.5, 0.25])


def test_int16_float_int16_round_trip_is_exact() -> None:
    np.testing.assert_array_equal(float_to_pcm16(pcm16_to_float(ALL_INT16)), ALL_INT16)


def test_float_int16_float_round_trip_error_is_half_a_step() -> None:
    x = np.random.default_rng(3).uniform(-1, 1, 10000)
    back = pcm16_to_float(float_to_pcm16(x)).astype(np.float64)
    assert np.max(np.abs(back - x)) <= 0.5 / 32768 + 1e-9


# --------------------------------------------------------------------------
# to_pcm16


def test_to_pcm16_int16_is_copied() -> None:
    x = np.array([1, 2, 3], dtype=np.int16)
    out = to_pcm16(x)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    strided = np.arange(10, dtype=np.int16)[::3]  # a view with a stride: the copy is contiguous
    out = to_pcm16(strided)
    np.testing.assert_array_equal(out, [0, 3, 6, 9])
    assert out.flags.c_contiguous and out.flags.writeable and not np.shares_memory(out, strided)


def test_to_pcm16_big_endian_array() -> None:
    x = np.array([1, -2, 32767, -32768], dtype=">i2")
    out = to_pcm16(x)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, [1, -2, 32767, -32768])


def test_to_pcm16_other_integer_dtypes_in_range() -> None:
    np.testing.assert_array_equal(to_pcm16(np.array([-32768, 0, 32767], np.int32)), [-32768, 0, 32767])
    np.testing.assert_array_equal(to_pcm16(np.array([0, 255], np.uint8)), [0, 255])
    np.testing.assert_array_equal(to_pcm16(np.array([5], np.uint64)), [5])
    np.testing.assert_array_equal(to_pcm16([1, -1, 300]), [1, -1, 300])
    assert to_pcm16(np.zeros(0, np.int32)).dtype == np.int16


@pytest.mark.parametrize(
    "values", [np.array([0, 40000], np.int32), np.array([-32769], np.int64), np.array([65535], np.uint16)]
)
def test_to_pcm16_integers_out_of_range(values: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\[-32768, 32767\]"):
        to_pcm16(values)
    with pytest.raises(ValueError):
        to_pcm16(values.tolist())


def test_to_pcm16_floats() -> None:
    np.testing.assert_array_equal(to_pcm16(np.array([0.5, -1.0, 2.0])), [16384, -32768, 32767])
    np.testing.assert_array_equal(to_pcm16([0.5, 0.0]), [16384, 0])


def test_to_pcm16_bytes_like() -> None:
    raw = struct.pack("<3h", 1, -1, 1000)
    for data in (raw, bytearray(raw), memoryview(raw), raw + b"\x55"):
        np.testing.assert_array_equal(to_pcm16(data), [1, -1, 1000])
    # a memoryview with another item format is taken as its raw bytes
    arr = np.array([7, -7], dtype="<i2")
    np.testing.assert_array_equal(to_pcm16(memoryview(arr)), [7, -7])  # type: ignore[arg-type]
    # a non-contiguous memoryview
    np.testing.assert_array_equal(to_pcm16(memoryview(raw * 2)[::2]), to_pcm16((raw * 2)[::2]))
    assert to_pcm16(b"").shape == (0,)


def test_array_module_arrays() -> None:
    np.testing.assert_array_equal(to_pcm16(array.array("h", [1, -2, 3])), [1, -2, 3])
    np.testing.assert_array_equal(to_pcm16(array.array("f", [0.5, -1.0])), [16384, -32768])
    np.testing.assert_array_equal(to_pcm16(array.array("i", [70])), [70])
    with pytest.raises(ValueError):
        to_pcm16(array.array("i", [70000]))
    np.testing.assert_array_equal(pcm16_to_float(array.array("h", [16384])), [0.5])
    with pytest.raises(TypeError):
        pcm16_to_float(array.array("d", [0.5]))
    assert resample(array.array("h", [100] * 10), 8000, 16000).dtype == np.int16
    assert resample(array.array("f", [0.1] * 10), 8000, 16000).dtype == np.float32


def test_to_pcm16_empty_inputs() -> None:
    empties: List[Any] = [[], (), np.zeros(0, np.int16), np.zeros(0, np.float32), b""]
    for empty in empties + [array.array("h")]:
        out = to_pcm16(empty)
        assert out.dtype == np.int16 and out.shape == (0,)


@pytest.mark.parametrize(
    "bad,exc",
    [
        (np.zeros((2, 2), np.int16), ValueError),
        (np.zeros((4, 1), np.float32), ValueError),
        (np.array(3, np.int16), ValueError),  # 0-d is not mono audio
        (np.int16(3), TypeError),
        ("AAAA", TypeError),
        ({"a": 1}, TypeError),
        (None, TypeError),
        (3.5, TypeError),
        (np.array([True, False]), TypeError),
        (np.array([1 + 2j]), TypeError),
        (np.array(["x"]), TypeError),
        ([[1, 2], [3, 4]], ValueError),
    ],
)
def test_to_pcm16_rejects(bad: Any, exc: type) -> None:
    with pytest.raises(exc):
        to_pcm16(bad)


# --------------------------------------------------------------------------
# G.711: a scalar port of the classic Sun reference code, written here so the
# exhaustive tests keep their meaning where audioop no longer exists.

_U_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_A_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: "tuple[int, ...]") -> int:
    for index, end in enumerate(ends):
        if value <= end:
            return index
    return len(ends)


def ref_lin2ulaw(sample: int) -> int:
    value = sample >> 2  # the reference works on 14 bits
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 32635) + (0x84 >> 2)
    seg = _segment(value, _U_SEG_END)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0x0F)) ^ mask


def ref_ulaw2lin(code: int) -> int:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def ref_lin2alaw(sample: int) -> int:
    value = sample >> 3  # the reference works on 13 bits
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    seg = _segment(value, _A_SEG_END)
    if seg >= 8:
        return 0x7F ^ mask
    shift = 1 if seg < 2 else seg
    return ((seg << 4) | ((value >> shift) & 0x0F)) ^ mask


def ref_alaw2lin(code: int) -> int:
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


# Values recorded from CPython 3.11's audioop (width 2).
ULAW_ENCODED = {
    0: 255, 1: 255, -1: 126, 2: 255, -2: 126, 3: 255, -3: 126, 4: 254, -4: 126, 7: 254,
    -8: 126, 8: 254, 100: 242, -100: 114, 1000: 206, -1000: 78, 4095: 175, -4096: 47,
    8158: 159, 8159: 159, -8160: 31, -8159: 31, 16000: 144, -16000: 16, 32124: 128,
    32635: 128, 32767: 128, -32768: 0,
}  # fmt: skip
ALAW_ENCODED = {
    0: 213, 1: 213, -1: 85, 2: 213, -2: 85, 3: 213, -3: 85, 4: 213, -4: 85, 7: 213, -8: 85,
    8: 213, 100: 211, -100: 83, 1000: 250, -1000: 122, 4095: 154, -4096: 26, 8158: 138,
    8159: 138, -8160: 10, -8159: 10, 16000: 186, -16000: 58, 32124: 170, 32635: 170,
    32767: 170, -32768: 42,
}  # fmt: skip
ULAW_DECODED = {
    0: -32124, 1: -31100, 15: -16764, 16: -15996, 126: -8, 127: 0, 128: 32124, 129: 31100,
    254: 8, 255: 0, 85: -716, 213: 716, 42: -5372, 170: 5372,
}  # fmt: skip
ALAW_DECODED = {
    0: -5504, 1: -5248, 15: -6784, 16: -2752, 126: -880, 127: -848, 128: 5504, 129: 5248,
    254: 880, 255: 848, 85: -8, 213: 8, 42: -32256, 170: 32256,
}  # fmt: skip

G711_CASES = [
    ("ulaw", ulaw_encode, ulaw_decode, ref_lin2ulaw, ref_ulaw2lin, ULAW_ENCODED, ULAW_DECODED),
    ("alaw", alaw_encode, alaw_decode, ref_lin2alaw, ref_alaw2lin, ALAW_ENCODED, ALAW_DECODED),
]
G711_IDS = [case[0] for case in G711_CASES]


@pytest.mark.parametrize("case", G711_CASES, ids=G711_IDS)
def test_g711_known_values(case: Any) -> None:
    _, encode, decode, ref_enc, ref_dec, encoded, decoded = case
    inputs = np.array(list(encoded), dtype=np.int16)
    assert list(encode(inputs)) == list(encoded.values())
    assert [ref_enc(int(v)) for v in inputs] == list(encoded.values())
    out = decode(bytes(decoded))
    assert out.tolist() == list(decoded.values())
    assert [ref_dec(c) for c in decoded] == list(decoded.values())


@pytest.mark.parametrize("case", G711_CASES, ids=G711_IDS)
def test_g711_exhaustive_against_scalar_reference(case: Any) -> None:
    _, encode, decode, ref_enc, ref_dec, _, _ = case
    expected_codes = bytes(ref_enc(v) for v in range(-32768, 32768))
    assert encode(ALL_INT16) == expected_codes
    expected_values = [ref_dec(c) for c in range(256)]
    assert decode(ALL_CODES).tolist() == expected_values


@needs_audioop
def test_g711_exhaustive_against_audioop() -> None:
    assert audioop is not None
    pcm = ALL_INT16.astype("<i2").tobytes()
    if sys.byteorder != "little":  # audioop works in native byte order
        pcm = ALL_INT16.tobytes()
    assert ulaw_encode(ALL_INT16) == audioop.lin2ulaw(pcm, 2)
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(pcm, 2)
    native = np.dtype(np.int16)
    np.testing.assert_array_equal(ulaw_decode(ALL_CODES), np.frombuffer(audioop.ulaw2lin(ALL_CODES, 2), native))
    np.testing.assert_array_equal(alaw_decode(ALL_CODES), np.frombuffer(audioop.alaw2lin(ALL_CODES, 2), native))


@pytest.mark.parametrize("case", G711_CASES, ids=G711_IDS)
def test_g711_properties(case: Any) -> None:
    _, encode, decode, _, _, _, _ = case
    # decoding then encoding gives the code back, except mu-law's "negative zero"
    codes = np.frombuffer(encode(decode(ALL_CODES)), np.uint8)
    mismatched = [c for c in range(256) if codes[c] != c]
    assert mismatched in ([], [0x7F])
    # the quantisation error is within half of the largest step (1024 for A-law's top segment)
    error = np.abs(decode(encode(ALL_INT16)).astype(np.int32) - ALL_INT16)
    assert error.max() <= 1024
    # and small near zero
    small = np.arange(-100, 101, dtype=np.int16)
    assert np.abs(decode(encode(small)).astype(int) - small).max() <= 16


@pytest.mark.parametrize("case", G711_CASES, ids=G711_IDS)
def test_g711_input_types(case: Any) -> None:
    _, encode, decode, _, _, _, _ = case
    samples = np.array([0, 1000, -1000, 32767], dtype=np.int16)
    expected = encode(samples)
    assert isinstance(expected, bytes) and len(expected) == 4
    assert encode(samples.astype(">i2")) == expected
    assert encode(samples.tolist()) == expected
    assert encode(samples.astype("<i2").tobytes()) == expected
    assert encode(np.zeros(0, np.int16)) == b""
    decoded = decode(expected)
    for data in (bytearray(expected), memoryview(expected), np.frombuffer(expected, np.uint8)):
        np.testing.assert_array_equal(decode(data), decoded)
    assert decode(b"").dtype == np.int16 and len(decode(b"")) == 0
    with pytest.raises(TypeError):
        decode("AAAA")  # base64 text goes through decode_audio
    with pytest.raises(TypeError):
        decode(np.zeros(3, np.int16))
    with pytest.raises(ValueError):
        encode(np.zeros((2, 2), np.int16))


# --------------------------------------------------------------------------
# encode_audio / decode_audio


def test_encode_decode_audio_pcm16() -> None:
    samples = np.random.default_rng(1).integers(-32768, 32768, 2400).astype(np.int16)
    text = encode_audio(samples)
    assert text == pcm16_to_base64(samples) == encode_audio(samples, "pcm16")
    assert len(base64.b64decode(text)) == 2 * len(samples)
    np.testing.assert_array_equal(decode_audio(text), samples)
    np.testing.assert_array_equal(decode_audio(text, "pcm16"), samples)


@pytest.mark.parametrize(
    "fmt,encode,decode", [("g711_ulaw", ulaw_encode, ulaw_decode), ("g711_alaw", alaw_encode, alaw_decode)]
)
def test_encode_decode_audio_g711(fmt: str, encode: Callable[..., bytes], decode: Callable[..., np.ndarray]) -> None:
    samples = float_to_pcm16(tone(1000, 8000, 0.1))
    text = encode_audio(samples, fmt)
    wire = base64.b64decode(text)
    assert wire == encode(samples) and len(wire) == len(samples)
    out = decode_audio(text, fmt)
    np.testing.assert_array_equal(out, decode(wire))
    assert snr_db(samples, out) > 30  # G.711 is about 38 dB on a loud tone
    # float input is accepted too
    assert encode_audio(tone(1000, 8000, 0.1), fmt) == text


def test_encode_decode_audio_unknown_format() -> None:
    with pytest.raises(ConfigurationError):
        encode_audio(np.zeros(4, np.int16), "mp3")
    with pytest.raises(ConfigurationError):
        decode_audio("", "g722")


def test_decode_audio_bad_base64() -> None:
    for fmt in AUDIO_FORMATS:
        with pytest.raises(ValueError):
            decode_audio("a", fmt)


def test_decode_audio_pcm16_text_path_edge_cases() -> None:
    # The str payload path (every response.audio.delta) matches base64_to_pcm16 exactly.
    text = base64.b64encode(b"\x01\x02\xff\x7f\x33").decode()  # odd last byte
    out = decode_audio(text)
    np.testing.assert_array_equal(out, [0x0201, 0x7FFF])
    assert out.dtype == np.int16 and out.dtype.isnative and out.flags.writeable
    out[0] = 5  # a fresh array of its own
    np.testing.assert_array_equal(decode_audio(text), [0x0201, 0x7FFF])
    empty = decode_audio("")
    assert empty.dtype == np.int16 and empty.shape == (0,) and empty.flags.writeable
    assert decode_audio(base64.b64encode(b"\x01").decode()).shape == (0,)
    # Not validating, like base64.b64decode: characters outside the alphabet are skipped.
    np.testing.assert_array_equal(decode_audio("AQ\nID"), base64_to_pcm16("AQ\nID"))
    for bad in ("abc", "caf\u00e9"):  # bad padding; non-ASCII text
        with pytest.raises(ValueError, match="invalid base64"):
            decode_audio(bad)
    with pytest.raises(TypeError):
        decode_audio(12345)  # type: ignore[arg-type]
    # bytes payloads take the general path and agree.
    np.testing.assert_array_equal(decode_audio(text.encode()), decode_audio(text))


# --------------------------------------------------------------------------
# resample

RATE_PAIRS = [
    (24000, 8000),
    (8000, 24000),
    (24000, 16000),
    (16000, 24000),
    (44100, 24000),
    (24000, 44100),
    (48000, 24000),
    (24000, 48000),
    (48000, 8000),
    (44100, 48000),
    (24000, 23999),  # many phases: the interpolated-table path
]


@pytest.mark.parametrize("from_rate,to_rate", RATE_PAIRS)
def test_resample_lengths(from_rate: int, to_rate: int) -> None:
    for n in list(range(0, 12)) + [479, 480, 481, 1001, 4410]:
        out = resample(np.zeros(n, np.int16), from_rate, to_rate)
        assert len(out) == round(n * to_rate / from_rate), n


def test_resample_440_round_trip_24k_8k_24k() -> None:
    x = float_to_pcm16(tone(440, 24000, 1.0))
    down = resample(x, 24000, 8000)
    assert down.dtype == np.int16 and len(down) == 8000
    back = resample(down, 8000, 24000)
    assert back.dtype == np.int16 and len(back) == 24000
    assert snr_db(x, back) > 60  # the requirement is 25 dB; we measure about 75
    # and the 8 kHz signal is the same tone, sampled at 8 kHz
    assert snr_db(float_to_pcm16(tone(440, 8000, 1.0)), down) > 60


@pytest.mark.parametrize("from_rate,to_rate", [(44100, 24000), (48000, 16000), (24000, 23999), (16000, 44100)])
def test_resample_round_trips_other_rates(from_rate: int, to_rate: int) -> None:
    x = tone(1000, from_rate, 0.5)
    back = resample(resample(x, from_rate, to_rate), to_rate, from_rate)
    n = min(len(x), len(back))  # lengths round twice, so may differ by one
    assert abs(len(back) - len(x)) <= 1
    assert snr_db(x[: n - 1], back[: n - 1]) > 60


@pytest.mark.parametrize("from_rate,to_rate", RATE_PAIRS)
def test_resample_keeps_the_tone(from_rate: int, to_rate: int) -> None:
    out = resample(tone(440, from_rate, 0.25), from_rate, to_rate)
    assert snr_db(tone(440, to_rate, 0.25), out) > 60


def test_resample_anti_aliasing() -> None:
    # 5 kHz and 9 kHz do not exist at 8 kHz: they must be filtered, not folded to 3/1 kHz
    for freq in (4200, 5000, 9000, 11000):
        out = resample(tone(freq, 24000, 0.5), 24000, 8000)
        level = np.sqrt(np.mean(out[200:-200].astype(np.float64) ** 2)) / (0.5 / np.sqrt(2))
        assert 20 * np.log10(level + 1e-20) < -70, freq


def test_resample_pass_band_is_flat() -> None:
    for freq in (100, 1000, 3000):
        out = resample(tone(freq, 24000, 0.5), 24000, 8000)
        level = np.sqrt(np.mean(out[400:-400].astype(np.float64) ** 2)) / (0.5 / np.sqrt(2))
        assert abs(20 * np.log10(level)) < 0.05, freq


def test_resample_no_images_when_upsampling() -> None:
    up = resample(tone(1000, 8000, 0.5), 8000, 48000)
    spectrum = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    freqs = np.fft.rfftfreq(len(up), 1 / 48000)
    peak = spectrum.max()
    images = spectrum[freqs > 4500].max()  # the 7 kHz, 9 kHz... images of a 1 kHz tone
    assert 20 * np.log10(images / peak) < -70


def test_resample_dc_and_constant() -> None:
    for pair in RATE_PAIRS:
        out = resample(np.full(500, 1000, np.int16), *pair)
        assert np.all(out == 1000), pair


def test_resample_dtypes() -> None:
    ints = np.arange(300, dtype=np.int16)
    assert resample(ints, 24000, 8000).dtype == np.int16
    assert resample(ints.astype(">i2"), 24000, 8000).dtype == np.int16
    assert resample(ints.astype(np.int32), 24000, 8000).dtype == np.int16
    assert resample(ints.tolist(), 24000, 8000).dtype == np.int16
    assert resample(ints.astype("<i2").tobytes(), 24000, 8000).dtype == np.int16
    assert resample(np.zeros(10, np.float64), 24000, 8000).dtype == np.float32
    assert resample(np.zeros(10, np.float32), 8000, 24000).dtype == np.float32
    assert resample([0.0, 0.5], 8000, 24000).dtype == np.float32
    assert resample(np.zeros(0, np.int16), 8000, 24000).dtype == np.int16
    assert resample(np.zeros(0, np.float32), 8000, 24000).dtype == np.float32


def test_resample_same_rate_returns_a_copy() -> None:
    x = np.arange(10, dtype=np.int16)
    out = resample(x, 24000, 24000)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    f = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(resample(f, 8000, 8000), f.astype(np.float32))
    np.testing.assert_array_equal(resample(x, 16000, 16000.0), x)  # type: ignore[arg-type]


def test_resample_does_not_modify_input() -> None:
    x = np.random.default_rng(2).integers(-1000, 1000, 999).astype(np.int16)
    kept = x.copy()
    resample(x, 44100, 24000)
    np.testing.assert_array_equal(x, kept)


def test_resample_int16_output_clips_instead_of_wrapping() -> None:
    square = np.where(np.sin(2 * np.pi * 100 * np.arange(8000) / 8000) >= 0, 32767, -32767).astype(np.int16)
    up = resample(square, 8000, 24000)
    # the filter overshoots (Gibbs) beyond int16; clipped, a positive half stays positive
    assert up.max() == 32767
    assert np.all(up[60:100] > 30000)
    floats = resample(square / 32768.0, 8000, 24000)
    assert floats.max() > 1.0  # float output is not clipped


def test_resample_short_inputs() -> None:
    np.testing.assert_array_equal(resample(np.array([1234], np.int16), 8000, 24000), [1234] * 3)
    np.testing.assert_array_equal(resample(np.array([1234], np.int16), 24000, 8000), [])
    np.testing.assert_array_equal(resample(np.array([1234, 1234], np.int16), 24000, 8000), [1234])


def test_resample_stateless_chunks_join_smoothly() -> None:
    x = tone(440, 48000, 1.0)
    chunks = [resample(x[i : i + 1920], 48000, 24000) for i in range(0, len(x), 1920)]  # 40 ms
    assert snr_db(tone(440, 24000, 1.0), np.concatenate(chunks)) > 60


@pytest.mark.parametrize("bad", [0, -8000, 1.5, float("nan"), float("inf"), "24000", None, True])
def test_resample_bad_rates(bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        resample(np.zeros(10, np.int16), bad, 24000)
    with pytest.raises(ConfigurationError):
        resample(np.zeros(10, np.int16), 24000, bad)
    with pytest.raises(ConfigurationError):
        Resampler(bad, 24000)


def test_resample_bad_input() -> None:
    with pytest.raises(ValueError):
        resample(np.zeros((10, 2), np.int16), 48000, 24000)
    with pytest.raises(ValueError):
        resample(np.zeros((10, 2), np.float32), 48000, 24000)
    with pytest.raises(TypeError):
        resample("abc", 48000, 24000)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Resampler (streaming)


@pytest.mark.parametrize("from_rate,to_rate", RATE_PAIRS)
def test_resampler_stream_equals_whole(from_rate: int, to_rate: int) -> None:
    rng = np.random.default_rng(from_rate + to_rate)
    for size in (0, 1, 5, 60, 3000):
        x = (rng.standard_normal(size) * 3000).astype(np.int16)
        whole = resample(x, from_rate, to_rate)
        rs = Resampler(from_rate, to_rate)
        parts: List[np.ndarray] = []
        position = 0
        while position < size:
            step = int(rng.integers(0, 300))  # empty chunks included
            parts.append(rs.process(x[position : position + step]))
            position += step
        parts.append(rs.flush())
        streamed = np.concatenate(parts)
        assert streamed.dtype == np.int16
        assert len(streamed) == len(whole) == round(size * to_rate / from_rate)
        assert np.abs(streamed.astype(np.int32) - whole).max(initial=0) <= 1


def test_resampler_float_stream_and_reuse() -> None:
    x = tone(440, 48000, 0.2).astype(np.float32)
    rs = Resampler(48000, 24000)
    assert repr(rs) == "Resampler(48000, 24000)"
    for _ in range(2):  # flush resets, so the same object serves a second stream
        parts = [rs.process(x[i : i + 960]) for i in range(0, len(x), 960)]
        parts.append(rs.flush())
        assert all(part.dtype == np.float32 for part in parts)
        out = np.concatenate(parts)
        np.testing.assert_allclose(out, resample(x, 48000, 24000), atol=1e-6)
    # output arrives with bounded latency, not only at flush
    first = rs.process(x[:4800])
    assert len(first) > 2400 - 100
    rs.reset()
    assert len(rs.flush()) == 0


def test_resampler_same_rate_passes_through() -> None:
    rs = Resampler(24000, 24000)
    np.testing.assert_array_equal(rs.process(np.array([1, 2, 3], np.int16)), [1, 2, 3])
    assert len(rs.flush()) == 0


# --------------------------------------------------------------------------
# WAV


def _wav_bytes(frames: bytes, *, channels: int, width: int, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return buffer.getvalue()


def _riff(format_tag: int, channels: int, rate: int, bits: int, data: bytes, extensible_tag: Optional[int] = None) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block, block, bits)
    if extensible_tag is not None:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", extensible_tag) + guid_tail
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd-sized chunk with a pad byte
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_wav_round_trip_path(tmp_path: Any) -> None:
    samples = np.random.default_rng(5).integers(-32768, 32768, 12345).astype(np.int16)
    target = tmp_path / "speech.wav"
    write_wav(target, samples, 24000)  # pathlib.Path
    out, rate = read_wav(target)
    assert rate == 24000 and out.dtype == np.int16
    np.testing.assert_array_equal(out, samples)
    out2, rate2 = read_wav(str(target))  # str path
    np.testing.assert_array_equal(out2, samples)
    with wave.open(str(target), "rb") as reader:  # a standard 16-bit mono file
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24000)
        assert reader.getnframes() == len(samples)


def test_wav_round_trip_file_objects() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=">i2")
    buffer = io.BytesIO()
    write_wav(buffer, samples, 8000)
    assert not buffer.closed  # the caller's file object stays open
    buffer.seek(0)
    out, rate = read_wav(buffer)
    assert rate == 8000
    np.testing.assert_array_equal(out, [0, 1, -1, 32767, -32768])


def test_write_wav_to_unseekable_stream() -> None:
    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.data += bytes(b)
            return len(b)

    sink = Sink()
    write_wav(sink, np.arange(100, dtype=np.int16), 16000)  # type: ignore[arg-type]
    out, rate = read_wav(io.BytesIO(bytes(sink.data)))
    assert rate == 16000
    np.testing.assert_array_equal(out, np.arange(100))


def test_write_wav_converts_floats_and_empty(tmp_path: Any) -> None:
    write_wav(tmp_path / "f.wav", np.array([0.5, -1.0, 2.0]), 24000)
    np.testing.assert_array_equal(read_wav(tmp_path / "f.wav")[0], [16384, -32768, 32767])
    write_wav(tmp_path / "e.wav", np.zeros(0, np.int16), 8000)
    out, rate = read_wav(tmp_path / "e.wav")
    assert rate == 8000 and out.dtype == np.int16 and len(out) == 0


def test_write_wav_errors(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError):
        write_wav(tmp_path / "x.wav", np.zeros(3, np.int16), 0)
    with pytest.raises(ValueError):
        write_wav(tmp_path / "x.wav", np.zeros((3, 2), np.int16), 8000)


def test_read_wav_stereo_mixdown() -> None:
    frames = np.array([100, 300, -32768, -32768, 32767, 32767, 1000, -1000, 1, 2], "<i2").tobytes()
    out, rate = read_wav(io.BytesIO(_wav_bytes(frames, channels=2, width=2, rate=48000)))
    assert rate == 48000
    np.testing.assert_array_equal(out, [200, -32768, 32767, 0, 2])


def test_read_wav_8_bit() -> None:
    frames = bytes([0, 128, 255, 64])
    out, _ = read_wav(io.BytesIO(_wav_bytes(frames, channels=1, width=1, rate=8000)))
    np.testing.assert_array_equal(out, [-32768, 0, 32512, -16384])


def test_read_wav_24_bit_stereo() -> None:
    values = [0, 256, -256, 8388607, -8388608, 384, 1 << 16, 3 << 16]
    frames = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    out, rate = read_wav(io.BytesIO(_wav_bytes(frames, channels=1, width=3, rate=16000)))
    assert rate == 16000
    np.testing.assert_array_equal(out, [0, 1, -1, 32767, -32768, 2, 256, 768])
    stereo, _ = read_wav(io.BytesIO(_wav_bytes(frames, channels=2, width=3, rate=16000)))
    np.testing.assert_array_equal(stereo, [0, 16383, -16383, 512])  # averaged before rounding


def test_read_wav_32_bit() -> None:
    frames = np.array([0, 65536, -65536, 2**31 - 1, -(2**31), 3 << 16], "<i4").tobytes()
    out, _ = read_wav(io.BytesIO(_wav_bytes(frames, channels=1, width=4, rate=44100)))
    np.testing.assert_array_equal(out, [0, 1, -1, 32767, -32768, 3])


def test_read_wav_ieee_float_and_extensible() -> None:
    data = np.array([0.0, 0.5, -1.0, 1.5, -0.25, 0.25], "<f4").tobytes()
    out, rate = read_wav(io.BytesIO(_riff(3, 1, 16000, 32, data)))
    assert rate == 16000
    np.testing.assert_array_equal(out, [0, 16384, -32768, 32767, -8192, 8192])
    stereo, _ = read_wav(io.BytesIO(_riff(0xFFFE, 2, 16000, 32, data, extensible_tag=3)))
    np.testing.assert_array_equal(stereo, [8192, 8192, 0])
    pcm = np.array([5, -5, 7], "<i2").tobytes()
    out, rate = read_wav(io.BytesIO(_riff(0xFFFE, 1, 22050, 16, pcm, extensible_tag=1)))
    assert rate == 22050
    np.testing.assert_array_equal(out, [5, -5, 7])
    f64 = np.array([0.5], "<f8").tobytes()
    np.testing.assert_array_equal(read_wav(io.BytesIO(_riff(3, 1, 8000, 64, f64)))[0], [16384])


def test_read_wav_errors(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="WAV"):
        read_wav(io.BytesIO(b"this is not a wav file at all"))
    with pytest.raises(ConfigurationError, match="format tag 0x0006"):
        read_wav(io.BytesIO(_riff(6, 1, 8000, 8, b"\xd5\xd5")))  # A-law WAV
    with pytest.raises(ConfigurationError):
        read_wav(io.BytesIO(b"RIFF\x04\x00\x00\x00WAVE"))  # no chunks
    with pytest.raises(OSError):
        read_wav(tmp_path / "missing.wav")


def test_wav_and_resample_pipeline(tmp_path: Any) -> None:
    """A 44.1 kHz stereo file becomes 24 kHz mono pcm16 ready for the wire."""
    left = float_to_pcm16(tone(440, 44100, 0.5))
    stereo = np.stack([left, left], axis=1).astype("<i2").tobytes()
    path = tmp_path / "music.wav"
    path.write_bytes(_wav_bytes(stereo, channels=2, width=2, rate=44100))
    samples, rate = read_wav(path)
    mono24 = resample(samples, rate, sample_rate("pcm16"))
    assert len(mono24) == 12000
    assert snr_db(float_to_pcm16(tone(440, 24000, 0.5)), decode_audio(encode_audio(mono24))) > 60
