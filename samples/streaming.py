"""Print a reply while it streams, using callbacks.

``conversation.updated`` fires for every change to an item (each text or
audio delta); ``conversation.item.completed`` once an item is finished.
Callbacks run on the client's socket thread: keep them short (printing is
fine), and let the main thread wait.

Run it with ``python samples/streaming.py [your message]``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Dict

from _common import server_options

from realtime_sync import RealtimeClient


def main() -> None:
    message = " ".join(sys.argv[1:]) or "Tell me something about realtime streaming."
    finished = threading.Event()
    deltas = []

    def on_updated(event: Dict[str, Any]) -> None:  # socket thread
        item, delta = event["item"], event["delta"]
        if item.get("role") == "assistant" and delta and "text" in delta:
            deltas.append(delta["text"])
            print(delta["text"], end="", flush=True)

    def on_completed(event: Dict[str, Any]) -> None:  # socket thread
        item = event["item"]
        if item.get("role") == "assistant":
            print()
            print("[completed] %s %s: %r" % (item["id"], item["status"], item["formatted"]["text"]))
            finished.set()

    with server_options() as options:
        with RealtimeClient(**options) as client:
            client.update_session(modalities=["text"])
            client.on("conversation.updated", on_updated)
            client.on("conversation.item.completed", on_completed)
            print("you: %s" % message)
            print("assistant: ", end="", flush=True)
            client.send_text(message)
            if not finished.wait(timeout=30):
                sys.exit("no reply within 30 seconds")
    print("[%d text deltas]" % len(deltas))


if __name__ == "__main__":
    main()
