"""Function calling: the model calls a real Python function, and answers with its result.

``add_tool(definition, handler)`` registers a JSON-schema definition with the
session and a handler. When the model calls the tool, the client runs the
handler on a worker thread with the parsed arguments, sends its JSON result
back as a ``function_call_output`` item, and asks for a follow-up response.

Run it with ``python samples/tools.py [a question that asks for word stats]``.
"""

from __future__ import annotations

import collections
import re
import sys
import threading
from typing import Any, Dict

from _common import server_options

from realtime_sync import RealtimeClient

WORD_STATS = {
    "name": "word_stats",
    "description": "Count the words of a text and find the most frequent ones.",
    "parameters": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text to analyse"}},
        "required": ["text"],
    },
}


def word_stats(text: str) -> Dict[str, Any]:
    """Count words and name the three most common (a real function: no model involved)."""
    words = re.findall(r"[a-z']+", text.lower())
    common = collections.Counter(words).most_common(3)
    return {"words": len(words), "most_common": ", ".join("%s (%d)" % pair for pair in common)}


def main() -> None:
    question = " ".join(sys.argv[1:]) or (
        "Please give me the word stats for: the cat sat on the mat and the dog sat on the log"
    )
    calls = []
    answered = threading.Event()

    def on_completed(event: Dict[str, Any]) -> None:  # socket thread
        item = event["item"]
        if item["type"] == "function_call":
            calls.append(item)
            print("[tool call] %s(%s)" % (item["name"], item["arguments"]))
        elif item["type"] == "function_call_output":
            print("[tool output] %s" % item["output"])
        elif item.get("role") == "assistant" and calls:
            print("assistant: %s" % item["formatted"]["text"])
            answered.set()

    def handler(arguments: Dict[str, Any]) -> Dict[str, Any]:  # worker thread
        return word_stats(**arguments)

    with server_options() as options:
        with RealtimeClient(**options) as client:
            client.update_session(modalities=["text"], instructions="Use word_stats to count words.")
            client.add_tool(WORD_STATS, handler)
            client.on("conversation.item.completed", on_completed)
            print("you: %s" % question)
            client.send_text(question)
            if not answered.wait(timeout=30):
                sys.exit("the tool was not called, or no follow-up answer came within 30 seconds")


if __name__ == "__main__":
    main()
