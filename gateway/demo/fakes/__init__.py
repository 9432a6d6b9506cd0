"""Strict stand-ins for Anthropic, Claude OAuth, OpenAI OAuth and the ChatGPT Codex backend.

They are the fakes the test suite runs against (tests/fakes re-exports them), shipped in the package so
that `python -m gateway.amp --demo` can show a newcomer the gateway working before any login. They
model the vendors, not the gateway, so they import nothing from it: a bug in the gateway can never
make its own stand-in lenient.
"""
