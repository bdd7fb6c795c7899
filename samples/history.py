"""Seed a conversation with earlier turns, then continue it.

Restoring a chat from your own storage (or giving the model a few examples)
means creating the old messages as conversation items: user messages carry
``input_text`` content, assistant messages ``text`` content. Items are created
with ``conversation.item.create`` through ``client.realtime.send``; the server
confirms each one with ``conversation.item.created``, and the client's
conversation cache holds them like any other item.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List

from _common import server_options

from realtime_sync import RealtimeClient

EARLIER_TURNS = [
    ("user", "My name is Ada and I am planning a trip to Lisbon."),
    ("assistant", "Lovely! Lisbon is great in spring. How can I help with the trip?"),
    ("user", "Remember that I prefer trains to planes."),
    ("assistant", "Noted: trains over planes."),
]


def message_item(role: str, text: str) -> Dict[str, Any]:
    """A message item as ``conversation.item.create`` expects it."""
    content_type = "input_text" if role in ("user", "system") else "text"
    return {"type": "message", "role": role, "content": [{"type": content_type, "text": text}]}


def main() -> None:
    with server_options() as options:
        with RealtimeClient(**options) as client:
            client.update_session(modalities=["text"])
            created = threading.Semaphore(0)
            client.realtime.on("server.conversation.item.created", lambda event: created.release())
            for role, text in EARLIER_TURNS:
                client.realtime.send("conversation.item.create", {"item": message_item(role, text)})
            for _ in EARLIER_TURNS:  # wait until the server has them all
                if not created.acquire(timeout=10):
                    raise SystemExit("the server did not confirm the seeded items")

            reply = client.ask("Which way should I travel, then?", timeout=30)
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
