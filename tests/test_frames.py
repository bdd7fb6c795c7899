"""The connection's own frame reader and writer (realtime_sync/_transport/frames.py), fuzzed.

A fake socket hands the reader a byte stream cut wherever the test says:
at every byte boundary, one byte at a time, or at random (hypothesis).
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support_ws import server_frame

from realtime_sync._transport.frames import (
    BLOCK_SIZE,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    encode_frame,
    mask,
    parse_close,
)

Frame = Tuple[int, bytes]


class ChunkedSocket:
    """Gives back ``data`` in the chunks ``cuts`` make (each read returns at most one chunk)."""

    def __init__(self, data: bytes, cuts: Sequence[int] = ()) -> None:
        points = sorted({c for c in cuts if 0 < c < len(data)})
        bounds = [0, *points, len(data)]
        self.chunks = [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]

    def _take(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks[0]
        if len(chunk) > size:
            self.chunks[0] = chunk[size:]
            return chunk[:size]
        self.chunks.pop(0)
        return chunk

    def recv_into(self, view: memoryview) -> int:
        chunk = self._take(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    def recv(self, size: int) -> bytes:
        return self._take(size)


def read_all(data: bytes, cuts: Sequence[int] = (), max_size: Optional[int] = None) -> Tuple[List[Frame], FrameReader]:
    reader = FrameReader(max_size)
    sock = ChunkedSocket(data, cuts)
    out: List[Frame] = []
    while reader.fill(sock):
        out.extend(reader.parse())
        if reader.error is not None:
            break
    return out, reader


LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, BLOCK_SIZE - 14, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 7]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_every_length_encoding_round_trips(length: int, masked: bool) -> None:
    payload = os.urandom(length)
    key = b"\x01\x02\x03\x04" if masked else None
    stream = server_frame(payload, OP_BINARY, mask=key) + server_frame(b'{"type":"after"}', mask=key)
    for cuts in ([], [1], [2], [3], [9], [len(stream) // 2], list(range(0, len(stream), 4096))):
        frames, reader = read_all(stream, cuts)
        assert frames == [(OP_BINARY, payload), (OP_TEXT, b'{"type":"after"}')]
        assert reader.error is None and reader.partial_since is None


def test_a_stream_split_at_every_byte_boundary_and_byte_by_byte() -> None:
    frames = [(OP_TEXT, b'{"type":"a"}'), (OP_PING, b"hi"), (OP_TEXT, b"x" * 130), (OP_PONG, b""),
              (OP_BINARY, bytes(range(256))), (OP_CLOSE, b"\x03\xe8bye")]
    stream = b"".join(server_frame(payload, opcode) for opcode, payload in frames)
    for cut in range(len(stream) + 1):
        assert read_all(stream, [cut])[0] == frames
    assert read_all(stream, range(len(stream)))[0] == frames


def test_fragments_with_control_frames_between_them() -> None:
    parts = [b'{"type":"long",', b'"delta":"', b'abc"}']
    stream = (
        server_frame(parts[0], OP_TEXT, fin=False)
        + server_frame(b"p1", OP_PING)
        + server_frame(parts[1], 0x0, fin=False, mask=b"abcd")
        + server_frame(b"", OP_PONG)
        + server_frame(parts[2], 0x0)
        + server_frame(b"next", OP_TEXT)
    )
    for cut in range(len(stream) + 1):
        frames, reader = read_all(stream, [cut])
        assert frames == [(OP_PING, b"p1"), (OP_PONG, b""), (OP_TEXT, b"".join(parts)), (OP_TEXT, b"next")]
        assert reader.pongs == 1 and reader.partial_since is None


def test_an_unfinished_message_has_a_start_time_until_it_completes() -> None:
    reader = FrameReader(None)
    frame = server_frame(b"x" * 300)
    reader.fill(ChunkedSocket(frame[:100]))
    assert reader.parse() == [] and reader.partial_since is not None
    reader.fill(ChunkedSocket(frame[100:]))
    assert reader.parse() == [(OP_TEXT, b"x" * 300)] and reader.partial_since is None
    # a fragment in progress counts as unfinished even when the buffer is empty
    reader.fill(ChunkedSocket(server_frame(b"a", fin=False)))
    assert reader.parse() == [] and reader.partial_since is not None


@pytest.mark.parametrize(
    "stream, code",
    [
        (bytes([0xC1, 0x01]) + b"x", 1002),  # RSV1 without an extension
        (bytes([0x83, 0x00]), 1002),  # unknown opcode
        (bytes([0x80, 0x01]) + b"x", 1002),  # continuation with nothing to continue
        (server_frame(b"a", fin=False) + server_frame(b"b"), 1002),  # new message inside a fragmented one
        (bytes([0x89, 126, 0, 200]), 1002),  # a control frame over 125 bytes, refused from its header
        (bytes([0x09, 0x00]), 1002),  # a fragmented control frame
        (bytes([0x81, 127]) + (1 << 63).to_bytes(8, "big"), 1002),  # the length's top bit
        (bytes([0x81, 127]) + (8 << 30).to_bytes(8, "big"), 1009),  # 8 GiB, refused from the header
        (server_frame(b"a" * 600, fin=False) + server_frame(b"b" * 600, 0x0), 1009),  # fragments grow past it
    ],
)
def test_rule_breaking_frames_are_refused_with_their_close_code(stream: bytes, code: int) -> None:
    before = server_frame(b'{"type":"ok"}')
    frames, reader = read_all(before + stream, max_size=1000)
    assert frames == [(OP_TEXT, b'{"type":"ok"}')]  # what came before still counts
    assert reader.error is not None and reader.error.code == code
    assert reader.parse() == []


def test_the_size_limit_is_checked_before_any_payload_arrives() -> None:
    reader = FrameReader(1000)
    reader.fill(ChunkedSocket(bytes([0x81, 126]) + (1001).to_bytes(2, "big") + b'{"type": "x"'))
    assert reader.parse() == []
    assert reader.error is not None and reader.error.code == 1009
    assert "1001" in str(reader.error) and reader.error.preview == b'{"type": "x"'


def test_client_frames_are_masked_and_decode_back() -> None:
    for length in (0, 125, 126, 65535, 65536):
        payload = os.urandom(length)
        frame = encode_frame(OP_TEXT, payload)
        assert frame[0] == 0x81 and frame[1] & 0x80  # final, text, masked
        frames, _ = read_all(frame)
        assert frames == [(OP_TEXT, payload)]
    assert mask(b"abcd", mask(b"abcd", b"hello world")) == b"hello world"
    assert parse_close(b"\x0f\xa0gone \xe2\x9c\x93") == (4000, "gone \u2713")
    assert parse_close(b"") == (None, None) and parse_close(b"\x03\xe8") == (1000, None)


_opcode = st.sampled_from([OP_TEXT, OP_BINARY])
_payload = st.one_of(st.binary(max_size=300), st.integers(0, 70000).map(lambda n: b"z" * n))
_message = st.tuples(_opcode, _payload, st.integers(1, 4), st.booleans(), st.lists(st.binary(max_size=20), max_size=2))


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(_message, min_size=1, max_size=6), data=st.data())
def test_random_streams_cut_at_random_points_parse_exactly(messages: List[Tuple[int, bytes, int, bool, List[bytes]]],
                                                            data: st.DataObject) -> None:
    """Messages in 1-4 fragments, masked or not, pings between fragments, cut anywhere."""
    stream = b""
    expected: List[Frame] = []
    for opcode, payload, pieces, masked, pings in messages:
        key = b"\x9a\x01\xff\x10" if masked else None
        step = max(1, len(payload) // pieces)
        chunks = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            stream += server_frame(chunk, opcode if index == 0 else 0x0, fin=last, mask=key)
            if not last:
                for ping in pings:
                    stream += server_frame(ping, OP_PING)
                    expected.append((OP_PING, ping))
        expected.append((opcode, payload))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    frames, reader = read_all(stream, cuts)
    assert reader.error is None
    assert frames == expected
