"""Moved to gateway.demo.fakes.recorder (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.recorder import *  # noqa: F401,F403
