"""Moved to gateway.demo.fakes.codex_backend (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.codex_backend import *  # noqa: F401,F403
