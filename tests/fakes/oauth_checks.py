"""Moved to gateway.demo.fakes.oauth_checks (the demo mode ships the fakes); re-exported so test imports stay as they are."""

from gateway.demo.fakes.oauth_checks import *  # noqa: F401,F403
