"""Deprecated location of the simulator's pacing options: use :mod:`realtime_sync.simulator.cli`.

Kept only until the command line imports them from their new home.
"""

from __future__ import annotations

from .simulator.cli import SPEED_HELP, STANDALONE_SPEED, add_pacing_arguments, pacing_options

__all__ = ["STANDALONE_SPEED", "SPEED_HELP", "add_pacing_arguments", "pacing_options"]
