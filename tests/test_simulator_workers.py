"""``python -m realtime_sync.simulator --workers N``: N processes behind one port, stopped together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Set, Tuple

import pytest

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")
websocket = pytest.importorskip("websocket")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--workers spreads connections on Linux only")


def _start(workers: int, *extra: str) -> Tuple["subprocess.Popen[str]", str, List[int]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync.simulator", "--port", "0", "--workers", str(workers), "--speed", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Realtime simulator listening on ws://127.0.0.1:"), (line, proc.stderr.read() if proc.stderr else "")
    url = line.split()[4]
    pids = [int(pid) for pid in line.split("processes: ")[1].split(";")[0].split()]
    assert len(pids) == workers
    return proc, url, pids


def _established(port: int) -> Set[str]:
    """Socket inodes of established TCP connections whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            pass
    return inodes


def _connections_of(pid: int, inodes: Set[str]) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pids: List[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_sessions_spread_over_the_workers_of_one_port_and_sigterm_stops_them_all() -> None:
    proc, url, pids = _start(2)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    sockets = []
    try:
        per_worker: Dict[int, int] = {}
        for _ in range(40):  # the kernel spreads connections by a hash: a few reach both
            ws = websocket.create_connection(url, timeout=10)
            sockets.append(ws)
            assert json.loads(ws.recv())["type"] == "session.created"
            inodes = _established(port)
            per_worker = {pid: _connections_of(pid, inodes) for pid in pids}
            if len(sockets) >= 4 and all(per_worker.values()):
                break
        assert all(per_worker.values()), per_worker
        assert sum(per_worker.values()) == len(sockets)
    finally:
        for ws in sockets:
            ws.close()
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(30)
    assert status == 0
    assert _gone(pids, 10)


def test_workers_do_not_outlive_a_killed_parent() -> None:
    proc, url, pids = _start(2)
    ws = websocket.create_connection(url, timeout=10)
    assert json.loads(ws.recv())["type"] == "session.created"
    proc.kill()  # no chance to stop them: their stdin ends
    proc.wait(10)
    try:
        assert _gone(pids, 15)
    finally:
        ws.close()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_workers_get_the_key_by_their_environment_not_their_command_line() -> None:
    key = "sk-worker-test-0123456789"
    proc, url, pids = _start(2, "--api-key", key)
    try:
        for pid in pids:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                assert key.encode() not in cmdline.read()  # other users of the machine can read a command line
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(url, timeout=10)  # the workers require the key...
        ws = websocket.create_connection(url, timeout=10, header=[f"Authorization: Bearer {key}"])
        try:
            assert json.loads(ws.recv())["type"] == "session.created"  # ...and accept it
        finally:
            ws.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert _gone(pids, 10)


def test_a_worker_that_never_says_it_is_ready_is_given_up_within_the_timeout() -> None:
    from realtime_sync.simulator import workers

    silent = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        started = time.monotonic()
        assert workers._await_ready([silent], 0.5) is False
        assert time.monotonic() - started < 10
    finally:
        silent.kill()
        silent.wait()
