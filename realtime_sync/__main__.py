"""``python -m realtime_sync``: the command line of :mod:`realtime_sync.cli`."""

from __future__ import annotations

import sys

from .cli import build_parser, main

__all__ = ["main", "build_parser"]

if __name__ == "__main__":
    sys.exit(main())
