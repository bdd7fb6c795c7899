"""What ``import realtime_sync`` loads, and that every public name still imports.

``from realtime_sync import RealtimeClient`` must stay cheap: numpy is
imported when audio is first touched, websocket-client (and ssl) when a
connection is first made, and the parts only some programs use (history,
the recording reader, the transcriber, REST, the simulator, the devices,
the command line) when they are imported. Each check runs in a fresh
interpreter, so nothing this test process imported earlier can hide a
regression. Behaviour, not timing: ``benchmarks/bench_floor.py`` times it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, List

import pytest

import realtime_sync

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(realtime_sync.__file__)))

#: Loaded only by the programs that use them.
_HEAVY = ("numpy", "websocket", "ssl")
_OPTIONAL_PARTS = (
    "realtime_sync.history",
    "realtime_sync._recording_reader",
    "realtime_sync.transcriber",
    "realtime_sync.rest",
    "realtime_sync.webhooks",
    "realtime_sync.simulator",
    "realtime_sync.devices",
    "realtime_sync.cli",
    "realtime_sync.testing",
)


def _run(code: str) -> Any:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=_ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded(names: List[str]) -> str:
    return f"sorted(m for m in {names!r} if m in sys.modules)"


def test_importing_the_client_loads_neither_numpy_nor_websocket_nor_ssl() -> None:
    watched = list(_HEAVY + _OPTIONAL_PARTS)
    figures = _run(
        "import json, sys\n"
        "from realtime_sync import RealtimeClient\n"
        f"after_import = {_loaded(watched)}\n"
        "import realtime_sync\n"
        "client = RealtimeClient(url='ws://127.0.0.1:9/')\n"
        "client.update_session(instructions='Be brief.', voice='alloy')\n"
        "client.on('conversation.updated', lambda event: None)\n"
        f"after_client = {_loaded(watched)}\n"
        "from realtime_sync import audio\n"
        "assert audio.sample_rate('pcm16') == 24000 and 'g711_ulaw' in audio.AUDIO_FORMATS\n"
        f"after_formats = {_loaded(watched)}\n"
        "audio.encode_audio([0, 1, -1])\n"
        f"after_audio = {_loaded(watched)}\n"
        "print(json.dumps([after_import, after_client, after_formats, after_audio]))\n"
    )
    after_import, after_client, after_formats, after_audio = figures
    assert after_import == [], "imported by `from realtime_sync import RealtimeClient`"
    assert after_client == [], "imported by making a client (no connection)"
    assert after_formats == [], "imported by checking an audio format"
    assert after_audio == ["numpy"], "audio needs numpy, and only numpy"


def test_import_realtime_sync_alone_loads_none_of_its_parts() -> None:
    loaded = _run(
        "import json, sys\n"
        "import realtime_sync\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('realtime_sync.') or m in "
        f"{list(_HEAVY)!r})))\n"
    )
    assert set(loaded) <= {"realtime_sync._version"}, loaded


def test_connecting_imports_websocket_client() -> None:
    loaded = _run(
        "import json, sys\n"
        "from realtime_sync import RealtimeAPI, RealtimeError\n"
        "api = RealtimeAPI(url='ws://127.0.0.1:9/v1/realtime')\n"
        "before = 'websocket' in sys.modules\n"
        "try:\n"
        "    api.connect(timeout=5)\n"
        "except RealtimeError:\n"
        "    pass\n"  # nothing listens on the discard port: refused, as a RealtimeError
        "print(json.dumps([before, 'websocket' in sys.modules, 'numpy' in sys.modules]))\n"
    )
    assert loaded == [False, True, False]


def test_every_public_name_imports_and_is_listed_by_dir() -> None:
    problems = _run(
        "import importlib, json, pkgutil, sys\n"
        "import realtime_sync\n"
        "problems = []\n"
        "def check(module):\n"
        "    names = getattr(module, '__all__', None)\n"
        "    if names is None:\n"
        "        problems.append(module.__name__ + ': no __all__')\n"
        "        return\n"
        "    listed = set(dir(module))\n"
        "    for name in names:\n"
        "        try:\n"
        "            value = getattr(module, name)\n"
        "        except AttributeError as exc:\n"
        "            problems.append(f'{module.__name__}.{name}: {exc}')\n"
        "            continue\n"
        "        if name not in listed:\n"
        "            problems.append(f'{module.__name__}.{name}: not in dir()')\n"
        "        home = getattr(value, '__module__', None)\n"
        "        if isinstance(home, str) and home.startswith('realtime_sync') and hasattr(value, '__qualname__'):\n"
        "            if getattr(importlib.import_module(home), value.__qualname__, value) is not value:\n"
        "                problems.append(f'{module.__name__}.{name}: not the object {home} defines')\n"
        "    space = {}\n"
        "    exec(f'from {module.__name__} import *', space)\n"
        "    missing = set(names) - set(space)\n"
        "    if missing:\n"
        "        problems.append(f'{module.__name__}: import * misses {sorted(missing)}')\n"
        "check(realtime_sync)\n"  # first, in a fresh interpreter: the lazy names resolve on their own
        "from realtime_sync import RealtimeClient, RealtimeAPI, Conversation, EventHandler, RealtimeError, __version__\n"
        "for info in pkgutil.walk_packages(realtime_sync.__path__, 'realtime_sync.'):\n"
        "    if any(part.startswith('_') for part in info.name.split('.')[1:]):\n"
        "        continue\n"
        "    if info.name.endswith('__main__'):\n"
        "        continue\n"
        "    check(importlib.import_module(info.name))\n"
        "print(json.dumps(problems))\n"
    )
    assert problems == []


def test_the_submodules_import_realtime_sync_gave_are_still_attributes_of_the_package() -> None:
    """``import realtime_sync`` then ``realtime_sync.errors.ToolError`` (as the README writes it) kept working."""
    found = _run(
        "import json, types\n"
        "import realtime_sync\n"
        "names = ['api', 'audio', 'client', 'conversation', 'dialects', 'errors', 'events', 'history', 'recording', 'types']\n"
        "print(json.dumps({n: isinstance(getattr(realtime_sync, n, None), types.ModuleType) for n in names}))\n"
    )
    assert found == {name: True for name in found} and len(found) == 10
    assert _run("import json, realtime_sync\nprint(json.dumps(realtime_sync.errors.ToolError.__name__))\n") == "ToolError"


def test_the_lazy_names_are_the_defining_modules_objects() -> None:
    from realtime_sync import api, audio, client, conversation, errors, events
    from realtime_sync.audio import _g711, _pcm, _resample, _wav, _wire

    assert realtime_sync.RealtimeClient is client.RealtimeClient
    assert realtime_sync.RealtimeAPI is api.RealtimeAPI
    assert realtime_sync.Conversation is conversation.Conversation
    assert realtime_sync.EventHandler is events.EventHandler
    assert realtime_sync.RealtimeError is errors.RealtimeError
    assert audio.decode_audio is _wire.decode_audio and audio.BASE64_BACKEND == _wire.BASE64_BACKEND
    assert audio.to_pcm16 is _pcm.to_pcm16 and audio.ulaw_encode is _g711.ulaw_encode
    assert audio.Resampler is _resample.Resampler and audio.read_wav is _wav.read_wav
    assert audio.sample_rate is _pcm.sample_rate and audio.AUDIO_FORMATS is _pcm.AUDIO_FORMATS
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = realtime_sync.nothing_here
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = audio.nothing_here
    with pytest.raises(ImportError):
        exec("from realtime_sync import nothing_here", {})


def test_a_lazy_module_imports_on_first_use_and_then_costs_a_plain_lookup() -> None:
    found = _run(
        "import json, sys\n"
        "from realtime_sync._lazy import lazy_module\n"
        "stand_in = lazy_module('colorsys')\n"
        "assert lazy_module('colorsys') is stand_in\n"
        "before = 'colorsys' in sys.modules\n"
        "convert = stand_in.rgb_to_hsv\n"
        "import colorsys\n"
        "same = convert is colorsys.rgb_to_hsv and stand_in.hls_to_rgb is colorsys.hls_to_rgb\n"
        "plain = 'rgb_to_hsv' in vars(stand_in) and 'hls_to_rgb' in vars(stand_in)\n"  # found without __getattr__
        "colorsys.added_later = 42\n"
        "later = stand_in.added_later\n"
        "try:\n"
        "    stand_in.nothing_here\n"
        "    missing = 'found'\n"
        "except AttributeError:\n"
        "    missing = 'AttributeError'\n"
        "print(json.dumps([before, same, plain, later, missing]))\n"
    )
    assert found == [False, True, True, 42, "AttributeError"]
