"""Local responses as Amp needs them: its model name, signatures on blocks, its tool-name casing."""

from __future__ import annotations

import json

import pytest

from amp.request_sanitizer import sanitize_request
from amp.response_rewriter import RewriteRules, RewritingSend, SSERewriter, declared_tool_names
from amp.settings import ModelMapping
from tests.amp.conftest import AUTH

MESSAGES = "/api/provider/anthropic/v1/messages"


def rewrite(doc: dict, *, streaming: bool = False, **rules) -> dict:
    return json.loads(RewriteRules(**rules).rewrite_json(json.dumps(doc).encode(), streaming=streaming))


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"model": "backend"}, ("model",)),
        ({"type": "message_start", "message": {"model": "backend"}}, ("message", "model")),
        ({"type": "response.created", "response": {"model": "backend"}}, ("response", "model")),
        ({"type": "response.completed", "response": {"model": "backend"}}, ("response", "model")),
        ({"modelVersion": "backend"}, ("modelVersion",)),
    ],
)
def test_model_restored_in_every_known_place(doc, path):
    out = rewrite(doc, original_model="claude-opus-4-5(high)")
    for key in path:
        out = out[key]
    assert out == "claude-opus-4-5(high)"


def test_documents_without_changes_stay_byte_identical():
    data = b'{ "id": "x",  "value": 1.10 }'
    assert RewriteRules(original_model="m").rewrite_json(data, streaming=False) is data
    assert RewriteRules().rewrite_json(b'{"model": "backend"}', streaming=False) == b'{"model": "backend"}'


def test_signatures_injected_only_where_missing():
    doc = {
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "tool_use", "id": "t", "name": "Bash", "input": {}},
            {"type": "thinking", "thinking": "x", "signature": "real"},
            {"type": "text", "text": "hi"},
        ]
    }
    out = rewrite(doc)
    assert [b.get("signature") for b in out["content"]] == ["", "", "real", None]


def test_streaming_thinking_then_tool_use_keeps_every_frame_and_signs_both():
    events = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "bash", "input": {}}},
    ]
    stream = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    rewriter = SSERewriter(RewriteRules(suppress_thinking=True))
    out = rewriter.feed(stream[:37]) + rewriter.feed(stream[37:]) + rewriter.flush()
    assert out.count(b'"signature":""') == 2
    assert out.count(b"event: ") == 4 and b"thinking_delta" in out
    assert b'"name":"Bash"' in out
    assert out.endswith(b"\n\n")


def test_sse_lines_split_across_chunks_are_rewritten_once_whole():
    rewriter = SSERewriter(RewriteRules(original_model="client-name"))
    first = rewriter.feed(b'data: {"mod')
    second = rewriter.feed(b'el": "backend"}\n\ndata: [DONE]\n\n')
    assert first == b""
    assert second == b'data: {"model":"client-name"}\n\ndata: [DONE]\n\n'


def test_thinking_suppressed_only_for_non_streaming_tool_use():
    doc = {"content": [{"type": "thinking", "thinking": "x", "signature": "s"}, {"type": "tool_use", "id": "t", "name": "Read", "input": {}}]}
    assert [b["type"] for b in rewrite(doc, suppress_thinking=True)["content"]] == ["tool_use"]
    assert [b["type"] for b in rewrite(doc, suppress_thinking=False)["content"]] == ["thinking", "tool_use"]
    assert [b["type"] for b in rewrite(doc, suppress_thinking=True, streaming=True)["content"]] == ["thinking", "tool_use"]
    no_tool = {"content": [{"type": "thinking", "thinking": "x", "signature": "s"}, {"type": "text", "text": "t"}]}
    assert len(rewrite(no_tool, suppress_thinking=True)["content"]) == 2


@pytest.mark.parametrize(
    ("declared", "returned", "expected"),
    [
        ([], "bash", "Bash"),
        ([], "read", "Read"),
        ([], "grep", "Grep"),
        ([], "Bash", "Bash"),
        ([], "glob", "glob"),
        ([], "edit_file", "edit_file"),
        (["Glob"], "glob", "Glob"),
        (["glob"], "glob", "glob"),
        (["Glob", "glob"], "glob", "glob"),
        (["glob", "Glob"], "glob", "glob"),
        (["Bash", "bash"], "bash", "bash"),
        (["mcp__Thing"], "MCP__THING", "mcp__Thing"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_tool_name_casing(declared, returned, expected, streaming):
    names = declared_tool_names({"tools": [{"name": n} for n in declared]})
    block = {"type": "tool_use", "id": "t", "name": returned, "input": {}}
    doc = {"type": "content_block_start", "content_block": block} if streaming else {"content": [block]}
    out = rewrite(doc, streaming=streaming, tool_names=names)
    name = out["content_block"]["name"] if streaming else out["content"][0]["name"]
    assert name == expected


def test_tool_choice_declares_a_casing():
    assert declared_tool_names({"tool_choice": {"type": "tool", "name": "Glob"}}) == {"glob": "Glob"}
    assert declared_tool_names({"tool_choice": {"type": "auto", "name": "Glob"}}) == {}


# --- request sanitizer ---


def _history(*blocks: dict) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": list(blocks)}]}


def test_sanitizer_removes_the_tool_use_signature_amp_was_given():
    request = _history(
        {"type": "thinking", "thinking": "c", "signature": ""},
        {"type": "text", "text": "t"},
        {"type": "tool_use", "id": "x", "name": "Bash", "input": {"n": 12345678901234567890}, "signature": ""},
    )
    assert sanitize_request(request) is True
    assert request["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "c", "signature": ""},  # the Claude provider judges thinking blocks
        {"type": "text", "text": "t"},
        {"type": "tool_use", "id": "x", "name": "Bash", "input": {"n": 12345678901234567890}},
    ]


def test_sanitizer_reports_clean_bodies_unchanged():
    request = _history({"type": "thinking", "thinking": "d", "signature": "valid"}, {"type": "text", "text": "t"})
    before = json.dumps(request)
    assert sanitize_request(request) is False
    assert json.dumps(request) == before
    assert sanitize_request({"messages": "not a list"}) is False


# --- through the amp app ---


async def test_local_non_streaming_reply_gets_signatures_and_declared_casing(harness):
    h = harness()
    h.local.content = [
        {"type": "thinking", "thinking": "x"},
        {"type": "tool_use", "id": "t", "name": "glob", "input": {}},
    ]
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "claude-sonnet-4-5", "tools": [{"name": "Glob"}]}, headers=AUTH)
    blocks = response.json()["content"]
    assert [b["signature"] for b in blocks] == ["", ""]
    assert blocks[1]["name"] == "Glob"
    assert response.headers["content-length"] == str(len(response.content))


async def test_local_streaming_reply_is_rewritten_per_event(harness):
    h = harness(model_mappings=(ModelMapping("amp-opus", "claude-sonnet-4-5"),))
    h.local.content = [{"type": "thinking", "thinking": ""}, {"type": "tool_use", "id": "t", "name": "grep", "input": {}}]
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "amp-opus", "stream": True}, headers=AUTH)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in response.headers
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[0]["message"]["model"] == "amp-opus"
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "tool_use"]  # no suppression while streaming
    assert [b["signature"] for b in starts] == ["", ""]
    assert starts[1]["name"] == "Grep"


async def test_mapped_non_streaming_tool_use_reply_loses_thinking(harness):
    h = harness(model_mappings=(ModelMapping("amp-opus", "claude-sonnet-4-5"),))
    h.local.content = [{"type": "thinking", "thinking": "x", "signature": "s"}, {"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]
    async with h.client() as client:
        mapped = await client.post(MESSAGES, json={"model": "amp-opus"}, headers=AUTH)
        direct = await client.post(MESSAGES, json={"model": "claude-sonnet-4-5"}, headers=AUTH)
    assert [b["type"] for b in mapped.json()["content"]] == ["tool_use"]
    assert [b["type"] for b in direct.json()["content"]] == ["thinking", "tool_use"]


async def test_upstream_fallback_replies_are_not_rewritten(harness, upstream):
    async with harness().client() as client:
        response = await client.post(MESSAGES, json={"model": "only-upstream-has-it", "tools": [{"name": "Text"}]}, headers=AUTH)
    assert response.json()["content"] == [{"type": "text", "text": "from the amp upstream"}]
    assert response.json()["model"] == "only-upstream-has-it"


async def test_local_sse_passes_event_by_event_not_buffered():
    downstream: list[dict] = []

    async def send(message):
        downstream.append(message)

    rewriting = RewritingSend(send, RewriteRules(original_model="client"))
    await rewriting({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    assert len(downstream) == 1
    await rewriting({"type": "http.response.body", "body": b'data: {"model":"backend"}\n\n', "more_body": True})
    assert downstream[-1]["body"] == b'data: {"model":"client"}\n\n'  # written before the stream ends
    await rewriting({"type": "http.response.body", "body": b"", "more_body": False})
    assert downstream[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_sse_under_a_json_content_type_switches_to_streaming():
    downstream: list[dict] = []

    async def send(message):
        downstream.append(message)

    rewriting = RewritingSend(send, RewriteRules(original_model="client"))
    await rewriting({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"999")]})
    assert downstream == []  # JSON is held until complete
    await rewriting({"type": "http.response.body", "body": b'event: x\ndata: {"model":"backend"}\n\n', "more_body": True})
    assert downstream[0]["type"] == "http.response.start"
    assert (b"content-length", b"999") not in downstream[0]["headers"]
    assert downstream[1]["body"] == b'event: x\ndata: {"model":"client"}\n\n'
