"""Record a session, then replay it with no server: a conversation turned into a regression test.

Run it with ``python samples/record_replay.py``. It

1. records a short conversation to a JSON Lines file (with ``OPENAI_API_KEY``
   against OpenAI, else against the built-in simulator): every frame both
   ways, no key, audio kept as its length only (``record_audio=False``);
2. replays the recording to a fresh client (``RealtimeSimulator(replay=...)``:
   no key, no network) and checks that the conversation ends the same;
3. shows what a client that says something else gets: an ``error`` naming
   what the recording expected.

The recording goes to a temporary directory, removed at the end; pass
``--keep FILE`` to keep it (then try ``realtime-sync replay FILE --print``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from typing import Any, List, Tuple

from _common import server_options

from realtime_sync import RealtimeClient
from realtime_sync.errors import ServerError
from realtime_sync.simulator import RealtimeSimulator

QUESTIONS = ["Hello!", "What is the capital of France?"]


def converse(client: RealtimeClient) -> List[Tuple[str, str]]:
    """Ask the questions; return (role, text) for every message of the conversation."""
    client.update_session(modalities=["text"])
    for question in QUESTIONS:
        if client.ask(question, timeout=30) is None:
            raise SystemExit("no reply within 30 seconds")
    return [
        (str(item.get("role")), item["formatted"]["text"] or item["formatted"]["transcript"])
        for item in client.conversation.get_items()
        if item["type"] == "message"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="FILE", help="keep the recording in FILE")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="realtime-recording-")
    try:
        path = os.path.join(folder, "session.jsonl")
        options: Any
        with server_options() as options:
            with RealtimeClient(record=path, record_audio=False, **options) as client:
                recorded = converse(client)
        print("recorded %d messages to a recording of %d lines" % (len(recorded), len(open(path).readlines())))

        with RealtimeSimulator(replay=path) as replay:  # no key, no network: the recording answers
            with RealtimeClient(url=replay.url, protocol=replay.protocol) as client:
                replayed = converse(client)
            replay.check_replay()
        for role, text in replayed:
            print("%s: %s" % (role, text))
        print("replay matches the recording" if replayed == recorded else "replay DIFFERS from the recording")

        with RealtimeSimulator(replay=path) as replay:
            with RealtimeClient(url=replay.url, protocol=replay.protocol) as client:
                client.update_session(modalities=["text"])
                try:
                    client.ask("Something else entirely", timeout=30)
                except ServerError as exc:  # the replay's error event, code replay_diverged
                    print("a diverging client is told:", exc.error["message"].split(": ", 1)[-1])
        if args.keep:
            shutil.copyfile(path, args.keep)
            print("kept the recording in", args.keep)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
