"""A/B of optimisation leads, patched in at run time, measured in one run.

Not a ``bench_*`` script (``make bench`` does not run it): it measures what a
change to the package would gain before anyone makes it. Each variant is the
unchanged library with one or more run-time patches; all variants and the
naive floors run in alternating rounds against the GA stream server of
``_ga_stream.py`` (another process), and each figure is the median over rounds
of (variant / floor) for process CPU per event and for wall time.

Receive leads (``RealtimeClient`` full conversation, and ``RealtimeAPI``):

* ``buffered`` (only where RealtimeAPI still reads through websocket-client's
  ``frame_buffer``): read the socket in 256 KiB blocks and serve websocket-client's
  small reads (2-byte header, length, payload) from that buffer: one
  ``recv`` syscall per many frames instead of three or four per frame (a
  prototype of a buffered frame reader; websocket-client still parses frames);
* ``pybase64``: ``pybase64.b64decode`` (SIMD) instead of
  ``binascii.a2b_base64`` in ``audio.decode_audio``;
* ``orjson``: ``orjson.loads`` instead of the json module's ``raw_decode`` in the
  receive loop; where the library has orjson built in (the ``fast`` extra,
  ``_transport/encoding.py``) this switches the library's own orjson path on
  (parsing and append frames), and ``stdlib-json`` switches it off: then the
  library as installed is compared with the other backend.

Send leads (``append_input_audio`` of 20 ms int16 chunks):

* ``fast-ids``: both ids from ``os.urandom(17).translate(table)`` (base58, a
  slightly uneven spread that ids do not need);
* ``encoder``: one cached ``json.JSONEncoder`` for ``RealtimeAPI.send``
  (``json.dumps`` with non-default options builds a new encoder per call);
* ``concat-append``: ``input_audio_buffer.append`` frame text by string
  concatenation (its id and base64 need no JSON escaping), no dependency;
* ``orjson-send``: ``orjson.dumps`` for the frame text;
* ``pybase64-enc``: ``pybase64.b64encode`` in ``audio.encode_audio``.

pybase64 and orjson must be importable (``pip install pybase64 orjson``, or
``PYTHONPATH`` pointing at a directory holding them); variants that need a
missing one are skipped.

Usage::

    python benchmarks/leads_ab.py [--minutes 10] [--rounds 5] [--only receive|send]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

import bench_floor as bf
from _ga_stream import start_server_process

__all__ = ["main"]

Patch = Callable[[], Callable[[], None]]  # apply; returns undo


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# -- receive patches ----------------------------------------------------------------------


def _buffered_recv(recv: Callable[[int], bytes], block: int = 262144) -> Callable[[int], bytes]:
    """websocket-client's frame_buffer.recv, served from blocks of ``block`` bytes."""
    state: Dict[str, Any] = {"data": b"", "pos": 0}

    def read(size: int) -> bytes:
        data, pos = state["data"], state["pos"]
        if pos >= len(data):
            data, pos = recv(block), 0
            if len(data) <= size:
                state["data"], state["pos"] = b"", 0
                return data
            state["data"] = data
        end = pos + size
        state["pos"] = end
        return data[pos:end]

    return read


def patch_buffered() -> Callable[[], None]:
    """Wrap each new connection's frame reader once the socket is open."""
    from realtime_sync import api as api_module

    original = api_module.RealtimeAPI.connect

    def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        ws = self._conn.ws
        ws.frame_buffer.recv = _buffered_recv(ws.frame_buffer.recv)
        return result

    api_module.RealtimeAPI.connect = connect  # type: ignore[method-assign]

    def undo() -> None:
        api_module.RealtimeAPI.connect = original  # type: ignore[method-assign]

    return undo


def patch_pybase64() -> Callable[[], None]:
    import pybase64

    from realtime_sync.audio import _wire

    original = _wire._a2b_base64
    _wire._a2b_base64 = pybase64.b64decode

    def undo() -> None:
        _wire._a2b_base64 = original

    return undo


def _has_frame_buffer() -> bool:
    """Whether RealtimeAPI reads through websocket-client's frame_buffer (not its own block reader)."""
    try:
        from realtime_sync import _receive_loop  # noqa: F401 - the layout before the _transport package
    except ImportError:
        return False
    return True


def _parser_module() -> Any:
    import importlib

    for name in ("realtime_sync._transport.connection", "realtime_sync._receive_loop"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "_RAW_DECODE"):
            return module
    raise ImportError("no _RAW_DECODE to patch in this tree")


def _json_backend_module() -> Optional[Any]:
    """realtime_sync._transport.encoding when it has the orjson switch (the ``fast`` extra's JSON), else None."""
    try:
        from realtime_sync._transport import encoding
    except ImportError:
        return None
    if not hasattr(encoding, "_orjson"):
        return None
    getattr(encoding, "_backend", lambda: None)()  # looked up on first use: now
    return encoding


def _set_json_backend(orjson_module: Optional[Any]) -> Callable[[], None]:
    encoding = _json_backend_module()
    assert encoding is not None
    original = encoding._orjson
    encoding._orjson = orjson_module

    def undo() -> None:
        encoding._orjson = original

    return undo


def patch_stdlib_json() -> Callable[[], None]:
    """The library's JSON without orjson (where the ``fast`` extra's orjson is built in)."""
    return _set_json_backend(None)


def patch_orjson_loads() -> Callable[[], None]:
    import orjson

    if _json_backend_module() is not None:  # built in: switch it on (parsing and the append frames)
        return _set_json_backend(orjson)

    _receive_loop = _parser_module()
    original = _receive_loop._RAW_DECODE
    loads = orjson.loads

    def raw_decode(text: str) -> Tuple[Any, int]:
        return loads(text), len(text)

    _receive_loop._RAW_DECODE = raw_decode

    def undo() -> None:
        _receive_loop._RAW_DECODE = original

    return undo


# -- send patches -----------------------------------------------------------------------------

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_TABLE = bytes(ord(_BASE58[i % 58]) for i in range(256))


def fast_id(prefix: str, length: int = 21) -> str:
    return prefix + os.urandom(length - len(prefix)).translate(_TABLE).decode("ascii")


def patch_fast_ids() -> Callable[[], None]:
    from realtime_sync import api as api_module
    from realtime_sync._session import outbound

    originals = (api_module.generate_id, outbound.generate_id)
    api_module.generate_id = fast_id  # type: ignore[assignment]
    outbound.generate_id = fast_id  # type: ignore[assignment]

    def undo() -> None:
        api_module.generate_id, outbound.generate_id = originals

    return undo


def _json_shim(dumps: Callable[..., str]) -> types.SimpleNamespace:
    shim = types.SimpleNamespace(**{name: getattr(json, name) for name in dir(json) if not name.startswith("__")})
    shim.dumps = dumps
    return shim


def patch_encoder() -> Callable[[], None]:
    from realtime_sync import api as api_module

    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    plain = json.dumps

    def dumps(obj: Any, **kwargs: Any) -> str:
        if kwargs == {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}:
            return encode(obj)
        return plain(obj, **kwargs)

    original = api_module.json
    api_module.json = _json_shim(dumps)  # type: ignore[assignment]

    def undo() -> None:
        api_module.json = original

    return undo


def patch_orjson_send() -> Callable[[], None]:
    import orjson

    from realtime_sync import api as api_module

    plain = json.dumps

    def dumps(obj: Any, **kwargs: Any) -> str:
        if kwargs == {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}:
            return orjson.dumps(obj).decode("utf-8")
        return plain(obj, **kwargs)

    original = api_module.json
    api_module.json = _json_shim(dumps)  # type: ignore[assignment]

    def undo() -> None:
        api_module.json = original

    return undo


def patch_concat_append() -> Callable[[], None]:
    """Write ``input_audio_buffer.append`` frames by concatenation (base64 and ids need no escaping)."""
    from realtime_sync import api as api_module

    plain = json.dumps
    safe = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")

    def dumps(obj: Any, **kwargs: Any) -> str:
        if (
            obj.__class__ is dict
            and len(obj) == 3
            and obj.get("type") == "input_audio_buffer.append"
            and isinstance(obj.get("event_id"), str)
            and isinstance(obj.get("audio"), str)
            and safe.issuperset(obj["event_id"])
        ):
            # base64 text is escape-free by construction; a real change would check it once where it is made
            return '{"event_id":"' + obj["event_id"] + '","type":"input_audio_buffer.append","audio":"' + obj["audio"] + '"}'
        return plain(obj, **kwargs)

    original = api_module.json
    api_module.json = _json_shim(dumps)  # type: ignore[assignment]

    def undo() -> None:
        api_module.json = original

    return undo


def patch_pybase64_encode() -> Callable[[], None]:
    import pybase64

    from realtime_sync.audio import _wire

    names = [name for name in ("_b2a_base64", "b2a_base64") if hasattr(_wire, name)]
    if hasattr(_wire, "base64"):
        names.append("base64")
    originals = {name: getattr(_wire, name) for name in names}
    if "_b2a_base64" in originals:
        _wire._b2a_base64 = lambda data, newline=False: pybase64.b64encode(data)  # type: ignore[attr-defined]
    if "base64" in originals:
        shim = types.SimpleNamespace(**{n: getattr(base64, n) for n in dir(base64) if not n.startswith("__")})
        shim.b64encode = pybase64.b64encode
        shim.b64decode = pybase64.b64decode
        _wire.base64 = shim  # type: ignore[attr-defined]

    def undo() -> None:
        for name, value in originals.items():
            setattr(_wire, name, value)

    return undo


def _variant(run: bf.Run, *patches: Patch) -> bf.Run:
    def wrapped(url: str, minutes: float) -> Dict[str, float]:
        undos = [patch() for patch in patches]
        try:
            return run(url, minutes)
        finally:
            for undo in reversed(undos):
                undo()

    return wrapped


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("receive", "send"))
    args = parser.parse_args(argv)
    from realtime_sync.audio import _wire

    # pybase64 variants only where the library does not use it already (its 'fast' extra)
    b64 = _have("pybase64") and getattr(_wire, "BASE64_BACKEND", "stdlib") != "pybase64"
    orj = _have("orjson")
    print(f"base64 backend of the library: {getattr(_wire, 'BASE64_BACKEND', 'stdlib')}")
    print(f"JSON backend of the library: {getattr(_json_backend_module(), 'JSON_BACKEND', 'stdlib')}")
    buffered = _has_frame_buffer()
    receive: List[Tuple[str, bf.Run, str]] = [
        ("floor", bf.floor_full, "stream"),
        ("client", bf.client_full, "stream"),
        ("raw", bf.floor_raw, "stream"),
        ("api", bf.api_raw, "stream"),
    ]
    if buffered:  # before RealtimeAPI had its own block reader
        receive.append(("client+buffered", _variant(bf.client_full, patch_buffered), "stream"))
        receive.append(("api+buffered", _variant(bf.api_raw, patch_buffered), "stream"))
    if b64:
        receive.append(("client+pybase64", _variant(bf.client_full, patch_pybase64), "stream"))
    builtin = _json_backend_module()
    if orj and builtin is not None and builtin._orjson is not None:  # the library uses orjson: compare without it
        receive.append(("client+stdlib-json", _variant(bf.client_full, patch_stdlib_json), "stream"))
        receive.append(("api+stdlib-json", _variant(bf.api_raw, patch_stdlib_json), "stream"))
    elif orj:
        receive.append(("client+orjson", _variant(bf.client_full, patch_orjson_loads), "stream"))
        receive.append(("api+orjson", _variant(bf.api_raw, patch_orjson_loads), "stream"))
        if buffered:
            receive.append(("api+buffered+orjson", _variant(bf.api_raw, patch_buffered, patch_orjson_loads), "stream"))
    if b64 and orj:
        both = (patch_buffered, patch_pybase64, patch_orjson_loads) if buffered else (patch_pybase64, patch_orjson_loads)
        receive.append(("client+" + "+".join(p.__name__[6:] for p in both), _variant(bf.client_full, *both), "stream"))
    send: List[Tuple[str, bf.Run, str]] = [
        ("send", bf.send_floor, "sink"),
        ("append", bf.send_client, "sink"),
        ("append+fast-ids", _variant(bf.send_client, patch_fast_ids), "sink"),
    ]
    from realtime_sync import api as api_module

    # the encoder leads patch RealtimeAPI's json.dumps: trees before _transport/encoding.py only
    legacy_send = hasattr(api_module, "json")
    if legacy_send:
        send.append(("append+encoder", _variant(bf.send_client, patch_encoder), "sink"))
        send.append(("append+concat-append", _variant(bf.send_client, patch_concat_append), "sink"))
    if orj and builtin is not None and builtin._orjson is not None:
        send.append(("append+stdlib-json", _variant(bf.send_client, patch_stdlib_json), "sink"))
    elif orj and builtin is not None:
        send.append(("append+orjson", _variant(bf.send_client, patch_orjson_loads), "sink"))
    elif orj and legacy_send:
        send.append(("append+orjson-send", _variant(bf.send_client, patch_orjson_send), "sink"))
    if b64:
        send.append(("append+pybase64-enc", _variant(bf.send_client, patch_pybase64_encode), "sink"))
    if orj and b64 and legacy_send:
        send.append(
            ("append+fast-ids+orjson+pybase64", _variant(bf.send_client, patch_fast_ids, patch_orjson_send,
                                                          patch_pybase64_encode), "sink")
        )
    elif orj and legacy_send:
        send.append(("append+concat+fast-ids", _variant(bf.send_client, patch_concat_append, patch_fast_ids), "sink"))
    contenders = receive if args.only == "receive" else send if args.only == "send" else receive + send
    stream_url, sink_url, stop = start_server_process(args.minutes)
    urls = {"stream": stream_url, "sink": sink_url}
    try:
        for _name, run, target in contenders:
            run(urls[target], args.minutes)
        results = bf.rounds(contenders, urls, args.minutes, args.rounds)
    finally:
        stop()
    print(f"== leads, A/B by run-time patches; {args.minutes:g}-minute GA reply; {args.rounds} alternating rounds;")
    print("   medians of per-round ratios [lowest-highest]; CPU is the client process's time per event")
    floors = {"client": "floor", "api": "raw", "append": "send"}
    for name in results:
        base = name.split("+")[0]
        if base not in floors:
            continue
        floor = floors[base]
        cpu = bf.ratio(results, name, floor, "cpu")
        wall = bf.ratio(results, name, floor, "seconds")
        own = bf.ratio(results, name, base, "cpu")
        cpu_us = statistics.median(r["cpu"] / r["events"] for r in results[name]) * 1e6
        print(
            f"  {name:34s} CPU {cpu_us:6.1f} us/ev  vs {floor:5s} CPU {cpu[0]:.2f}x [{cpu[1]:.2f}-{cpu[2]:.2f}]  "
            f"wall {wall[0]:.2f}x [{wall[1]:.2f}-{wall[2]:.2f}]   vs unpatched CPU {own[0]:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
