"""The ``realtime-sync`` command line (``python -m realtime_sync``).

Commands::

    realtime-sync demo       a short scripted conversation with a tool call, then exit
    realtime-sync chat       chat in the terminal; replies stream as they are generated
    realtime-sync voice      talk with the microphone, hear the speaker (needs the audio extra)
    realtime-sync events     print a session's live event stream, one line per event
    realtime-sync simulate   run the built-in Realtime simulator until Ctrl-C

Without ``OPENAI_API_KEY`` (and without ``--url``) the commands talk to the
built-in simulator and say so. Errors are reported on one line; ``--debug``
shows the traceback and logs every event.

Exit codes: 0 success, 1 error, 2 bad command line, 130 interrupted (Ctrl-C).

Modules, each importing only those listed before it: ``common`` (choosing the
server, building the client, printing replies), ``chat`` (chat and voice),
``demo``, ``events`` (the event log), ``main`` (the parser and the entry point).
"""

from __future__ import annotations

from .main import build_parser, main

__all__ = ["main", "build_parser"]
