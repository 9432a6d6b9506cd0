"""The Codex backend's WebSocket fake refuses what the real one refuses and chains turns as it does.

Gateway tests trust it to catch a bad relay: each refusal (handshake and frame) is checked once over a
real socket, with the websockets client Codex CLI's behaviour was compared against.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.fakes.codex_backend import CodexBackendFake
from tests.fakes.tokens import Grant, TokenBook
from tests.servers import ServerThread

BETA = "responses_websockets=2026-02-06"
_emails = itertools.count()


@pytest.fixture(scope="module")
def book() -> TokenBook:
    return TokenBook(access_prefix="codex-at-")


@pytest.fixture(scope="module")
def fake(book: TokenBook) -> CodexBackendFake:
    return CodexBackendFake(book)


@pytest.fixture(scope="module")
def server(fake: CodexBackendFake) -> Iterator[ServerThread]:
    with ServerThread(fake.app) as srv:
        yield srv


@pytest.fixture
def grant(book: TokenBook) -> Grant:
    return book.issue(f"ws{next(_emails)}@example.com")


def url(server: ServerThread) -> str:
    return server.url.replace("http://", "ws://") + "/backend-api/codex/responses"


def headers(grant: Grant, **extra: str) -> dict[str, str]:
    out = {"Authorization": f"Bearer {grant.access_token}", "ChatGPT-Account-Id": grant.account_id,
           "OpenAI-Beta": BETA}
    out.update(extra)
    return {k: v for k, v in out.items() if v}


def create(**fields: Any) -> str:
    body = {"type": "response.create", "model": "gpt-5.1-codex", "instructions": "be brief", "stream": True,
            "store": False, "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None})


def turn(ws: ClientConnection) -> list[dict[str, Any]]:
    """Frames until a terminal event or an error frame."""
    out = []
    while True:
        frame = json.loads(ws.recv(timeout=10))
        out.append(frame)
        if frame["type"] in ("response.completed", "response.failed", "error"):
            return out


@pytest.mark.parametrize("change, status", [
    ({"Authorization": "Bearer codex-at-forged"}, 401),
    ({"Authorization": ""}, 401),
    ({"ChatGPT-Account-Id": ""}, 401),
    ({"ChatGPT-Account-Id": "someone-else"}, 401),
    ({"OpenAI-Beta": ""}, 426),
    ({"OpenAI-Beta": "responses=experimental"}, 426),
])
def test_the_upgrade_is_refused_without_token_account_or_beta(server, grant, change, status) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server), additional_headers=headers(grant, **change), open_timeout=10)
    assert refused.value.response.status_code == status


def test_a_turn_streams_the_sse_events_as_json_frames(server, grant) -> None:
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(create())
        frames = turn(ws)
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "codex.rate_limits" and kinds[1] == "response.created"
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert frames[-1]["response"]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("fields, message", [
    ({"store": True}, "Store must be set to false"),
    ({"instructions": None}, "Instructions are required"),
    ({"temperature": 0.2}, "Unsupported parameter: temperature"),
    ({"model": "o3"}, "Unsupported model: o3"),
])
def test_a_refused_request_is_an_error_frame_and_the_socket_stays_open(server, grant, fields, message) -> None:
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(create(**fields))
        [error] = turn(ws)
        assert error["type"] == "error" and error["status"] == 400 and error["error"]["message"] == message
        ws.send(create())
        assert turn(ws)[-1]["type"] == "response.completed"


def test_previous_response_id_is_found_only_on_its_own_connection(server, grant) -> None:
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(create())
        first = turn(ws)[-1]["response"]["id"]
        more = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "again"}]}]
        ws.send(create(previous_response_id=first, input=more))
        assert turn(ws)[-1]["type"] == "response.completed"
    with connect(url(server), additional_headers=headers(grant)) as other:
        other.send(create(previous_response_id=first))
        [error] = turn(other)
    assert error["status"] == 400 and error["error"]["code"] == "previous_response_not_found"


def test_a_warm_up_generates_nothing(server, grant) -> None:
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(create(generate=False))
        frames = turn(ws)
    assert frames[-1]["response"]["output"] == []
    assert not [f for f in frames if f["type"].startswith("response.output")]


def test_a_frame_that_is_not_response_create_is_refused(server, grant) -> None:
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(json.dumps({"type": "session.update"}))
        [error] = turn(ws)
    assert error["status"] == 400 and "session.update" in error["error"]["message"]


def test_scripted_429_is_an_error_frame_with_the_reset(server, fake, grant) -> None:
    fake.recorder.script({"status": 429, "resets_in_seconds": 120}, account=grant.email)
    with connect(url(server), additional_headers=headers(grant)) as ws:
        ws.send(create())
        [error] = turn(ws)
    assert error["status"] == 429 and error["error"]["type"] == "usage_limit_reached"
    assert error["error"]["resets_in_seconds"] == 120


def test_scripted_refused_upgrade(server, fake, grant) -> None:
    fake.recorder.script({"mode": "refuse_upgrade", "status": 503}, account=grant.email)
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server), additional_headers=headers(grant), open_timeout=10)
    assert refused.value.response.status_code == 503
    with connect(url(server), additional_headers=headers(grant)) as ws:  # the script was used up
        ws.send(create())
        assert turn(ws)[-1]["type"] == "response.completed"
