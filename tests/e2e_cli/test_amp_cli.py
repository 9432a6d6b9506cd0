"""Amp's January 2026 CLI (`amp -x`, execute mode) with AMP_URL pointed at the gateway.

`@sourcegraph/amp@0.0.1767830505-ga62310` is plain JavaScript (no native binary). It still calls
`/api/provider/anthropic/v1/messages` itself: a haiku call for the thread title, then opus for the turn.
Its management RPCs (`/api/internal?getUserInfo`, `getCreditsByRequestId`, `uploadThread`) go to the
fake ampcode.com through the gateway, whose generic `{"ok": true}` answers are enough for execute mode.
Observed (differs from clients.md): the model calls carry the key as `x-api-key` (the RPCs as
`Authorization: Bearer`), `Accept-Encoding: gzip, deflate`, and thinking is `{type: enabled, budget_tokens:
4000}`. The fake calls the first offered tool; Bash needs an allowlist and glob/Grep try to download
ripgrep from the internet, so those are disabled in settings and the first tool left is Read.
"""

from __future__ import annotations

import json

from tests.e2e_cli.clis import requires, run_cli
from tests.fakes.anthropic_rules import IDENTITY_PREFIXES

pytestmark = requires("amp")

USER_KEY = "amp-cli-user-key"
CANARY = "subgate canary: read by Amp's Read tool"
BEFORE_READ = ["Bash", "create_file", "edit_file", "find_thread", "finder", "glob", "Grep", "librarian",
               "look_at", "mermaid", "oracle"]


def test_execute_mode_runs_on_the_subscription(gateway, accounts, claude_stack, amp_stack, tap, sandbox):
    acct = accounts.add("claude")
    amp_stack.recorder.clear()
    settings = sandbox.home / ".config" / "amp" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"amp.tools.disable": BEFORE_READ}))
    (sandbox.work / "fake").write_text(CANARY + "\n")

    run = run_cli("amp", ["-x", "say hi"], home=sandbox.home, cwd=sandbox.work,
                  env={"AMP_URL": tap.url, "AMP_API_KEY": USER_KEY})

    assert run.returncode == 0, run.explain()
    assert "tool said:" in run.stdout and CANARY in run.stdout  # Read ran locally, its result made the trip
    seen = claude_stack.api.messages_requests(acct.email)
    assert [r.json()["model"] for r in seen] == ["claude-haiku-4-5-20251001"] + ["claude-opus-4-5-20251101"] * 2
    for request in seen:
        assert request.headers["authorization"] == f"Bearer {acct.grant.access_token}"
        assert USER_KEY not in json.dumps(request.headers)
        system = request.json()["system"]
        assert system[0]["text"] == IDENTITY_PREFIXES[0]  # Amp sends none; the gateway prepends it
    sent = tap.tap.requests("/api/provider/anthropic/v1/messages")
    assert sent[-1].headers["x-api-key"] == USER_KEY
    assert seen[-1].json()["system"][1:] == sent[-1].json()["system"]  # Amp's own blocks kept after it
    assert seen[-1].json()["messages"][-1]["content"][0]["type"] == "tool_result"
    # Nothing model-shaped went to ampcode; its RPCs did, with the gateway's upstream key instead of the user's.
    assert not amp_stack.recorder.for_path("/api/provider/anthropic/v1/messages")
    rpcs = amp_stack.recorder.for_path("/api/internal")
    assert {"getUserInfo", "uploadThread"} <= {r.query for r in rpcs}
    assert all(r.headers["authorization"] == f"Bearer {amp_stack.key}" for r in rpcs)
