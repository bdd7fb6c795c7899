"""One connection's socket I/O on the simulator's loop: frames out in order, client frames in.

A :class:`Channel` wraps a ``websockets`` asyncio ``ServerConnection``. Any
thread may :meth:`~Channel.write` a frame (or ask for a close or a cut): it
joins the channel's queue at once, never blocking, and one writer task on the
loop sends the queue in order, so a frame never overtakes another and a
close or a cut comes after the frames written before it. :meth:`Channel.run`
reads the client's frames and hands each to the session, on the loop thread.

Flow control: :meth:`Channel.ready` tells a producer (the response streamer)
to wait while the queue is long, so a client that reads slowly slows its
own stream down instead of filling the simulator's memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import Any, Awaitable, Callable, Deque, Optional, Tuple, Union

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .runtime import Runtime
from .state import Closed

__all__ = ["Channel"]

logger = logging.getLogger(__name__)

#: The queue length past which :meth:`Channel.ready` asks a producer to wait, and the one it waits for.
_HIGH, _LOW = 64, 16

_CLOSE, _CUT = "close", "cut"
_OPEN = State.OPEN
#: A queued entry: (frame, delay before it) or (_CLOSE, (code, reason)) or (_CUT, None).
_Entry = Tuple[Any, Any]


class Channel:
    """The writing queue and reading loop of one connection (see the module doc).

    Args:
        connection: a ``websockets.asyncio.server.ServerConnection``.
        runtime: the simulator's loop.
    """

    def __init__(self, connection: Any, runtime: Runtime) -> None:
        self.connection = connection
        self.runtime = runtime
        self._queue: Deque[_Entry] = deque()
        self._wake: Optional["asyncio.Future[None]"] = None  # the idle writer waits on it
        self._room: Optional["asyncio.Future[None]"] = None  # a producer waits on it (ready())
        self._ended = False  # a close or a cut is queued: nothing more is written
        self._finishing = False  # the session has ended: the writer ends once the queue is empty
        self._idle = False  # the writer waits for the queue: a frame on the loop thread may go straight out
        self._pending: Optional["asyncio.Future[Any]"] = None  # a client frame handled off the loop, awaited
        self.request = connection.request
        # the sans-I/O protocol and its writer, when this websockets version has them (13 and later do)
        self._protocol = getattr(connection, "protocol", None)
        self._send_data = getattr(connection, "send_data", None)

    # -- any thread -------------------------------------------------------------------

    def write(self, frame: str, delay: float = 0.0) -> None:
        """Queue one text frame (sent after ``delay`` seconds more, a fault); dropped once the channel ends.

        On the loop thread, with nothing queued or waiting to leave, the frame
        goes straight to the socket instead (no writer task step, no wait
        behind the other sessions' work of this loop turn).
        """
        if self._ended:
            return
        if self._idle and not delay and not self._queue and self.runtime.on_loop() and self._write_now(frame):
            return
        self._put((frame, delay))

    def _write_now(self, frame: str) -> bool:
        """Write ``frame`` to the transport now if nothing is buffered there; False to queue it instead."""
        protocol, send_data = self._protocol, self._send_data
        transport = self.connection.transport
        if protocol is None or send_data is None or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() or protocol.state is not _OPEN:
            return False
        try:
            protocol.send_text(frame.encode("utf-8"))
            send_data()
        except Exception:  # the connection is ending: the writer's own send reports it
            logger.debug("simulator: a direct write failed", exc_info=True)
            return True
        return True

    def close(self, code: int, reason: str) -> None:
        """Queue the closing handshake, after the frames queued before it."""
        if not self._ended:
            self._ended = True
            self._put((_CLOSE, (code, reason)))

    def cut(self) -> None:
        """Queue an abrupt end (the TCP connection shut down, no close frame) after the frames queued before."""
        if not self._ended:
            self._ended = True
            self._put((_CUT, None))

    def _put(self, entry: _Entry) -> None:
        self._queue.append(entry)
        if self._wake is not None:
            self.runtime.soon(self._wake_writer)

    # -- the loop thread ---------------------------------------------------------------

    def _wake_writer(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    def ready(self) -> Optional["asyncio.Future[None]"]:
        """None when a producer may go on; else a future done once the queue is short again."""
        if len(self._queue) < _HIGH:
            return None
        if self._room is None or self._room.done():
            assert self.runtime.loop is not None
            self._room = self.runtime.loop.create_future()
        return self._room

    def _give_room(self) -> None:
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def shutdown(self) -> None:
        """Shut the TCP socket down both ways: the reader sees the end at once (loop thread)."""
        sock = self.connection.transport.get_extra_info("socket") if self.connection.transport else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def abort(self) -> None:
        """End the connection now, whatever is queued or blocked (loop thread)."""
        self._ended = True
        self._queue.clear()
        self._give_room()
        pending = self._pending
        if pending is not None and not pending.done():
            pending.set_exception(Closed())  # the reader stops waiting for user code still running
        transport = self.connection.transport
        if transport is not None:
            transport.abort()

    async def _write_all(self) -> None:
        """The writer task: send the queue in order until a close, a cut, or the session's end."""
        connection = self.connection
        queue = self._queue
        assert self.runtime.loop is not None
        while True:
            while queue:
                if len(queue) <= _LOW and self._room is not None:
                    self._give_room()
                what, detail = queue.popleft()
                if what is _CLOSE:
                    await connection.close(*detail)
                    return
                if what is _CUT:
                    await self._flush()
                    self.shutdown()
                    return
                if detail:
                    await asyncio.sleep(detail)
                await connection.send(what)
            self._give_room()
            if self._finishing:
                return
            self._wake = self.runtime.loop.create_future()
            if queue or self._finishing:  # written between the check and the wait
                self._wake = None
                continue
            self._idle = True
            try:
                await self._wake
            finally:
                self._idle = False

    async def _flush(self, limit: float = 1.0) -> None:
        """Wait (up to ``limit`` seconds) for the transport to hand every buffered byte to the kernel.

        Woken by the transport's flow control, not by looking again: with both
        write-buffer limits at 0 the connection is paused while anything is
        buffered and resumed (its ``drain()`` returns) once nothing is.
        """
        transport = self.connection.transport
        if transport is None or transport.is_closing() or not transport.get_write_buffer_size():
            return
        transport.set_write_buffer_limits(high=0, low=0)  # the connection is cut next: its limits no longer matter
        try:
            await asyncio.wait_for(self.connection.drain(), limit)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass  # cut anyway: the peer took nothing in time, or the connection has gone

    async def run(
        self, handle: Callable[[Union[str, bytes]], Optional[Awaitable[Any]]], ended: Callable[[], None]
    ) -> None:
        """Serve the connection: each client frame to ``handle``; ``ended`` once it has closed (loop thread).

        ``handle`` may return a future of the loop (the frame is handled off
        the loop): the next frame is read once it is done. ``handle`` (or that
        future) may raise to end the session (``Closed``); the frames queued
        until then are still sent (a close queued by ``ended`` last), then the
        writer ends.
        """
        writer = asyncio.ensure_future(self._write_all())
        try:
            async for message in self.connection:
                pending = handle(message)
                if pending is not None:
                    self._pending = asyncio.ensure_future(pending)
                    try:
                        await self._pending
                    finally:
                        self._pending = None
        except (Closed, ConnectionClosed, OSError):
            pass
        except Exception:  # a bug: the connection ends
            logger.exception("simulator connection failed")
        finally:
            try:
                ended()
            finally:
                self._finishing = True
                self._wake_writer()
                try:
                    await writer
                except (ConnectionClosed, OSError):
                    pass
                except asyncio.CancelledError:
                    writer.cancel()
                    raise
                except Exception:
                    logger.debug("simulator writer failed", exc_info=True)
