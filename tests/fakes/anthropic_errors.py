"""Moved to gateway.demo.fakes.anthropic_errors (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.anthropic_errors import *  # noqa: F401,F403
