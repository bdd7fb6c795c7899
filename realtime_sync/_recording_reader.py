"""The reader of recordings: :func:`read_recording` and what it returns.

Private: the public face, with the format's description, is
:mod:`realtime_sync.recording` (which imports this module when one of these
names is first used: only programs that read recordings pay for dataclasses).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from ._recording_file import FORMAT, VERSION, PathLike
from ._version import __version__
from .errors import ConfigurationError

__all__ = ["Frame", "Recording", "read_recording"]

logger = logging.getLogger(__name__)


# -- reading ----------------------------------------------------------------------


@dataclass
class Frame:
    """One client or server event of a recording."""

    direction: str  #: ``"client"`` or ``"server"``
    event: Dict[str, Any]
    time: float  #: seconds since the recording began
    line: int  #: its line number in the file (1-based)

    @property
    def type(self) -> str:
        """The event's ``type``."""
        return str(self.event.get("type"))


@dataclass
class Recording:
    """A recording read from a file: its header and its connections' frames."""

    path: str
    header: Dict[str, Any]
    connections: List[List[Frame]] = field(default_factory=list)
    closes: List[Optional[Dict[str, Any]]] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        """The wire dialect, ``"ga"`` or ``"beta"``."""
        return str(self.header["protocol"])

    @property
    def audio_elided(self) -> bool:
        """Whether audio was replaced by its length."""
        return self.header.get("audio") == "elided"

    def frames(self) -> List[Frame]:
        """Every frame of every connection, in order."""
        return [frame for connection in self.connections for frame in connection]


def _bad(path: str, line: int, what: str) -> ConfigurationError:
    return ConfigurationError(f"{path}, line {line}: {what}")


def _read_header(name: str, line: str) -> Recording:
    if not line.strip():
        raise ConfigurationError(f"{name!r} is not a realtime_sync recording: it is empty (no header line)")
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigurationError(
            f"{name!r} is not a realtime_sync recording: its first line must be a header "
            f'with "format": "{FORMAT}" (record one with RealtimeClient(record=...))'
        )
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _bad(name, 1, f"the header's version must be an integer, not {version!r}")
    if version != VERSION:
        newer = "newer" if version > VERSION else "older"
        raise _bad(
            name, 1, f"recording format version {version} is {newer} than the version this realtime_sync "
            f"{__version__} reads ({VERSION}); "
            + ("upgrade realtime_sync to replay it" if version > VERSION else "record the session again")
        )
    if header.get("protocol") not in ("ga", "beta"):
        raise _bad(name, 1, f'the header\'s protocol must be "ga" or "beta", not {header.get("protocol")!r}')
    return Recording(name, header)


def _read_records(recording: Recording, lines: Iterator[str]) -> None:
    name = recording.path
    current: Optional[List[Frame]] = None
    for number, text in enumerate(lines, start=2):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise _bad(name, number, f"not valid JSON ({exc}); the file may be cut short or edited by hand") from None
        if not isinstance(record, dict):
            raise _bad(name, number, "a record must be a JSON object")
        direction = record.get("dir")
        moment = record.get("t", 0.0)
        if isinstance(moment, bool) or not isinstance(moment, (int, float)):
            raise _bad(name, number, f'"t" must be a number of seconds, not {moment!r}')
        if direction == "open" or current is None and direction in ("client", "server"):
            current = []
            recording.connections.append(current)
            recording.closes.append(None)
        if direction in ("client", "server"):
            event = record.get("event")
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise _bad(name, number, f'a {direction} record needs an "event" object with a string "type"')
            assert current is not None
            current.append(Frame(str(direction), event, float(moment), number))
        elif direction == "close":
            if recording.closes:
                recording.closes[-1] = {k: record.get(k) for k in ("code", "reason", "error", "by")}
            current = None
        elif direction != "open":
            logger.debug("%s, line %d: record of unknown kind %r ignored", name, number, direction)


def read_recording(path: PathLike) -> Recording:
    """Read and check a recording.

    Raises:
        ConfigurationError: the file is missing or unreadable, is not a
            recording (no header, another format), has a version this
            library does not read, or a line that is not a record; the message
            names the file and the line.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:  # read line by line: an hour of kept audio is big
            recording = _read_header(name, handle.readline())
            _read_records(recording, handle)
    except FileNotFoundError:
        raise ConfigurationError(f"no recording at {name!r}: the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the recording {name!r}: {exc}") from None
    return recording
