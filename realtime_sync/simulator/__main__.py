"""``python -m realtime_sync.simulator``: run the simulator until Ctrl-C (see :mod:`.cli`)."""

from __future__ import annotations

import sys

from .cli import main

__all__: list[str] = []

if __name__ == "__main__":  # pragma: no cover - exercised in a subprocess
    sys.exit(main())
