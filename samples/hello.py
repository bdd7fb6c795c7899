"""The shortest realtime_sync script: connect, ask one question, print the reply.

Run it with ``python samples/hello.py``. With ``OPENAI_API_KEY`` set it talks
to OpenAI; without, to the built-in simulator.
"""

from __future__ import annotations

from _common import server_options

from realtime_sync import RealtimeClient
from realtime_sync.errors import RealtimeTimeoutError


def main() -> None:
    with server_options() as options:
        with RealtimeClient(**options) as client:  # connects, and disconnects at the end
            client.update_session(output_modalities=["text"])  # text replies only
            try:
                reply = client.ask("Hello! What can you do?", timeout=30)
            except RealtimeTimeoutError as exc:  # ask() raises when its timeout runs out
                raise SystemExit(str(exc)) from None
            print("assistant:", reply["formatted"]["text"] if reply else "(no reply)")


if __name__ == "__main__":
    main()
