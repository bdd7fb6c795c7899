"""Save a conversation, then continue it in a new session.

A Realtime session forgets everything when it closes. The first session below
talks, then saves its history (text, transcripts and tool calls; no audio or
ids) to a JSON file with ``realtime_sync.history.save_history``. The second
session, a brand-new connection, loads the file, recreates the earlier turns
with ``client.restore_history`` (which waits until the server has confirmed
every item) and goes on where the first one stopped.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List

from _common import server_options

from realtime_sync import RealtimeClient
from realtime_sync.history import load_history, save_history

FIRST_SESSION = [
    "My name is Ada and I am planning a trip to Lisbon.",
    "Remember that I prefer trains to planes.",
]
QUESTION = "Which way should I travel, then?"


def main() -> None:
    with server_options() as options, tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "history.json")

        with RealtimeClient(**options) as client:
            client.update_session(modalities=["text"])
            for text in FIRST_SESSION:
                reply = client.ask(text, timeout=30)
                if reply is None:
                    raise SystemExit("no reply within 30 seconds")
                print("assistant: %s" % reply["formatted"]["text"])
            history = save_history(path, client.conversation.get_items())
        print("saved %d items; the first session is closed" % len(history))

        with RealtimeClient(**options) as client:
            client.update_session(modalities=["text"])
            restored = client.restore_history(load_history(path), timeout=10)
            print("restored %d items in a new session" % len(restored))

            reply = client.ask(QUESTION, timeout=30)
            if reply is None:
                raise SystemExit("no reply within 30 seconds")
            print("assistant: %s" % reply["formatted"]["text"])

            print()
            print("conversation:")
            items: List[Dict[str, Any]] = client.conversation.get_items()
            for item in items:
                print("  %-9s %s" % (item.get("role"), item["formatted"]["text"]))


if __name__ == "__main__":
    main()
