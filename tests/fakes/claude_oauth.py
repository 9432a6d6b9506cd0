"""Moved to gateway.demo.fakes.claude_oauth (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.claude_oauth import *  # noqa: F401,F403
