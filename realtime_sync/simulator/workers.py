"""Simulator worker processes behind one port: ``python -m realtime_sync.simulator --workers N``.

One simulator process is one core at most (Python's GIL): it serves every
session on one event-loop thread, a few hundred real-time sessions (see the
README's figures). Sessions share nothing, so the way past that limit is
more processes behind the same URL: with ``--workers N`` this process reserves the address and starts N
worker processes, each a whole simulator with a listening socket of its own
on that address (``SO_REUSEPORT``: the kernel spreads new connections over
them). Linux only (elsewhere ``SO_REUSEPORT`` does not spread connections).

What lives in one process stays per worker: a session is served by one
worker from start to end, and the REST side (client secrets, SIP calls),
which needs state shared by every session, is not served with workers.

Each worker reads its stdin, a pipe from this process, and stops at its end:
however this process ends, no worker outlives it.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, List, Optional

__all__ = ["KEY_VARIABLE", "listen_socket", "run_workers", "worker_command", "worker_key"]

_READY = "worker ready"
_STOP_TIMEOUT = 15.0
_START_TIMEOUT = 30.0  # for a worker to import, bind and say it is ready

#: How the parent hands ``--api-key`` to its workers: the environment, which
#: (unlike a command line) other users of the machine cannot read.
KEY_VARIABLE = "REALTIME_SYNC_SIMULATOR_WORKER_KEY"


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may share (``SO_REUSEPORT``).

    Raises:
        OSError: the address cannot be bound.
    """
    return socket.create_server((host, port), reuse_port=True)


def worker_command(args: argparse.Namespace, port: int) -> List[str]:
    """The command line of one worker serving ``port`` with the options in ``args``.

    ``--api-key`` is not on it: the key goes by the environment (see :data:`KEY_VARIABLE`).
    """
    command = [sys.executable, "-m", "realtime_sync.simulator", "--host", args.host, "--port", str(port), "--worker"]
    command += ["--protocol", args.protocol]
    if args.refuse_beta:
        command.append("--refuse-beta")
    if args.max_session_seconds is not None:
        command += ["--max-session-seconds", repr(args.max_session_seconds)]
    if args.speed is not None:
        command += ["--speed", repr(args.speed)]
    if args.verbose:
        command.append("--verbose")
    return command


def worker_key() -> Optional[str]:
    """In a worker: the key its parent handed over (and removed from the environment), if any."""
    return os.environ.pop(KEY_VARIABLE, None) or None


def _worker_environment(args: argparse.Namespace) -> "dict[str, str]":
    environment = dict(os.environ)
    environment.pop(KEY_VARIABLE, None)
    if args.api_key:
        environment[KEY_VARIABLE] = args.api_key
    return environment


def _watching(workers: List["subprocess.Popen[str]"]) -> selectors.BaseSelector:
    """A selector on every worker's stdout (a pipe: readable on a line and at its end), data = the worker."""
    selector = selectors.DefaultSelector()
    for worker in workers:
        assert worker.stdout is not None
        selector.register(worker.stdout, selectors.EVENT_READ, worker)
    return selector


def _await_ready(workers: List["subprocess.Popen[str]"], timeout: float) -> bool:
    """Wait up to ``timeout`` s for every worker's ready line; False if one fails or stays silent."""
    deadline = time.monotonic() + timeout
    with _watching(workers) as selector:
        waiting = len(workers)
        while waiting:
            ready = selector.select(max(0.0, deadline - time.monotonic()))
            if not ready:
                return False  # a worker hung while starting
            for key, _ in ready:
                if key.fileobj.readline().strip() != _READY:  # type: ignore[union-attr]
                    return False  # it ended (EOF) or said something else
                selector.unregister(key.fileobj)
                waiting -= 1
    return True


def _await_first_end(workers: List["subprocess.Popen[str]"]) -> None:
    """Block until one worker ends (its stdout reaches its end); woken by the pipe, not polled."""
    with _watching(workers) as selector:
        while True:
            for key, _ in selector.select():
                if not key.fileobj.readline():  # type: ignore[union-attr]
                    key.data.wait(_STOP_TIMEOUT)  # its pipe closed: it has ended or is ending
                    return


def _reserve(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (0: a free port) without listening, so the workers can share it."""
    if not hasattr(socket, "SO_REUSEPORT") or not sys.platform.startswith("linux"):
        raise OSError("--workers needs SO_REUSEPORT, which spreads connections on Linux only")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((host, port))
    except OSError:
        reserved.close()
        raise
    return reserved


class _Terminated(Exception):
    """SIGTERM arrived: stop the workers."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


def _stop(workers: List["subprocess.Popen[str]"]) -> None:
    for worker in workers:
        try:
            if worker.stdin is not None:
                worker.stdin.close()  # end of input: the worker stops
        except OSError:
            pass
    deadline = time.monotonic() + _STOP_TIMEOUT
    for worker in workers:
        try:
            worker.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_workers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve ``args`` from ``args.workers`` worker processes on one address until Ctrl-C or SIGTERM.

    Returns:
        0 after SIGTERM, 130 after Ctrl-C, 1 when a worker failed.
    """
    try:
        reserved = _reserve(args.host, args.port)
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    port = int(reserved.getsockname()[1])
    workers: List["subprocess.Popen[str]"] = []
    previous: Optional[Any] = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        for _ in range(args.workers):
            workers.append(
                subprocess.Popen(
                    worker_command(args, port),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=_worker_environment(args),
                )
            )
        if not _await_ready(workers, _START_TIMEOUT):
            print(f"{parser.prog}: a worker could not start within {_START_TIMEOUT:g} s", file=sys.stderr)
            return 1
        reserved.close()  # the workers hold the address now
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(
            f"Realtime simulator listening on ws://{host}:{port}/v1/realtime  "
            f"({args.workers} worker processes: {' '.join(str(w.pid) for w in workers)}; no REST; Ctrl-C to stop)",
            flush=True,
        )
        _await_first_end(workers)
        print(f"{parser.prog}: a worker ended; stopping the others", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        status = 130  # 128 + SIGINT, as after Ctrl-C in one process
        print("stopping...", flush=True)
    except _Terminated:
        print("stopping...", flush=True)
    finally:
        reserved.close()
        _stop(workers)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return status


def serve_worker() -> None:
    """A worker's life once its simulator has started: say so, then serve until stdin ends."""
    print(_READY, flush=True)
    sys.stdin.read()
