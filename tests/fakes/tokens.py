"""Moved to gateway.demo.fakes.tokens (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.tokens import *  # noqa: F401,F403
