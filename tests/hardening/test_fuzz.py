"""Fuzzed request bodies on every inference endpoint: a client mistake is a 4xx in the caller's dialect.

Hypothesis builds bodies that are almost right (real model names, wrong types in the fields LiteLLM
reads: model, messages, max_tokens, stream, tools, input, ...), plainly wrong (random JSON, arrays,
scalars), or not JSON at all (invalid UTF-8, text, empty) under several content types, and posts them to
the running gateway with a Claude and a Codex account logged in. Whatever comes back must not be a 5xx,
must not carry a traceback, and an error must be shaped for the SDK that called: Anthropic's envelope
on the *messages* routes, OpenAI's elsewhere.

The run is derandomized by default so CI is repeatable; SUBGATE_FUZZ_RANDOM=1 explores new examples.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import ClaudeStack, CodexStack
from tests.gateway_process import GatewayProcess
from tests.hardening.client_view import assert_no_internals, error_message
from tests.hardening.conftest import fast_accounts_for

EXAMPLES = int(os.environ.get("SUBGATE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("SUBGATE_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MODELS = ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "gpt-5.1", "gpt-5.1-codex-high"]
ENDPOINTS = [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/completions",
    "/backend-api/codex/responses",
    "/api/provider/anthropic/v1/messages",
    "/api/provider/anthropic/v1/messages/count_tokens",
    "/api/provider/openai/v1/chat/completions",
    "/api/provider/openai/v1/responses",
    "/api/provider/openai/v1/completions",
]

# ---- strategies ------------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=40))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "function", ""]) | json_values
content_blocks = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "input_text", "bogus"])
     | json_values},
    optional={"text": json_values, "id": json_values, "input": json_values, "source": json_values,
              "tool_use_id": json_values, "content": json_values, "signature": json_values},
)
messages = st.lists(
    st.fixed_dictionaries({}, optional={
        "role": roles,
        "content": st.text(max_size=200) | st.lists(content_blocks, max_size=3) | json_values,
        "tool_calls": json_values, "name": json_values,
    }) | json_values,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(["function", "custom", "web_search"]) | json_values,
                                        "name": json_values, "function": json_values,
                                        "input_schema": json_values, "parameters": json_values}) | json_values,
    max_size=3,
)
# Bodies shaped like the real ones with any field missing or of the wrong type.
near_misses = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(MODELS) | json_values,
    "messages": messages | json_values,
    "max_tokens": st.integers(-5, 2**40) | json_values,
    "max_output_tokens": json_values,
    "stream": st.booleans() | json_values,
    "tools": tools | json_values,
    "tool_choice": json_values,
    "input": st.text(max_size=100) | messages | json_values,
    "instructions": json_values,
    "system": st.text(max_size=50) | json_values,
    "thinking": json_values,
    "reasoning": json_values,
    "prompt": json_values,
    "temperature": json_values,
    "metadata": json_values,
    "n": json_values,
    "stop": json_values,
})
huge = st.builds(lambda model, n: {"model": model, "max_tokens": 16,
                                   "messages": [{"role": "user", "content": "x" * n}]},
                 st.sampled_from(MODELS), st.integers(100_000, 2_000_000))
json_bodies = (near_misses | json_values | huge).map(lambda v: json.dumps(v).encode())
raw_bodies = st.binary(max_size=300) | st.text(max_size=200).map(str.encode) | st.just(b"") | st.sampled_from([
    b"\xff\xfe\xfd", b'{"model": "gpt-5.1", "messages": [', b"null", b"[]", b'"text"', b"{\"model\": \"\xc3\x28\"}",
    b"model=gpt-5.1&messages=hi", b"\x00" * 10,
])
content_types = st.sampled_from([
    "application/json", "application/json", "application/json; charset=utf-8", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None,
])
requests_ = st.tuples(json_bodies | raw_bodies, content_types)


# ---- the running gateway with an account per provider -----------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_gateway(gateway: GatewayProcess, auth_dir, claude_stack: ClaudeStack,
                 codex_stack: CodexStack) -> Iterator[GatewayProcess]:
    for accounts in fast_accounts_for(auth_dir, claude_stack, codex_stack):
        accounts.add("claude")
        accounts.add("codex")
        yield gateway


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(30.0), trust_env=False) as c:
        yield c


def dialect_of(path: str) -> str:
    return "anthropic" if "/messages" in path else "openai"


def check(client: httpx.Client, url: str, path: str, body: bytes, content_type: str | None) -> None:
    headers = {"anthropic-version": "2023-06-01"}
    if content_type is not None:
        headers["content-type"] = content_type
    with client.stream("POST", url + path, content=body, headers=headers) as r:
        raw = b"".join(r.iter_bytes())
    text = raw.decode("utf-8", "replace")
    context = f"{path} {content_type} {body[:300]!r} -> {r.status_code} {text[:500]}"
    assert r.status_code < 500, context
    assert "Traceback" not in text and 'File "/' not in text, context
    if r.status_code >= 400:
        assert_no_internals(text)
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            raise AssertionError(f"error body is not JSON: {context}") from None
        try:
            error_message(dialect_of(path), parsed)  # type: ignore[arg-type]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{context}") from None


@pytest.mark.parametrize("path", ENDPOINTS)
def test_fuzzed_bodies_get_a_4xx_in_the_callers_dialect(path: str, fuzz_gateway: GatewayProcess,
                                                        client: httpx.Client) -> None:
    @FUZZ
    @given(requests_)
    def run(request: tuple[bytes, str | None]) -> None:
        check(client, fuzz_gateway.url, path, *request)

    run()
