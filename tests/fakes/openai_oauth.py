"""Moved to gateway.demo.fakes.openai_oauth (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.openai_oauth import *  # noqa: F401,F403
