"""The status page in a real browser (Debian's chromium, headless): what an operator sees at /ui.

Opt-in: SUBGATE_OPTIN=1 and /usr/bin/chromium (apt-get install -y chromium).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import anthropic
import pytest

CHROMIUM = Path("/usr/bin/chromium")
MODEL = "claude-sonnet-4-5-20250929"

pytestmark = [
    pytest.mark.optin,
    pytest.mark.skipif(os.environ.get("SUBGATE_OPTIN") != "1" or not CHROMIUM.exists(),
                       reason="opt-in: SUBGATE_OPTIN=1 and /usr/bin/chromium"),
]


def dump_dom(url: str, profile: Path) -> str:
    out = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def row(dom: str, attr: str, value: str) -> str:
    match = re.search(rf'<tr data-{attr}="{re.escape(value)}">(.*?)</tr>', dom, re.S)
    assert match, f"no row for {value} in the page"
    return match.group(1)


def cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)]


def test_status_page_shows_accounts_states_countdown_and_model_counts(managed_gateway, managed_accounts,
                                                                      claude_stack, tmp_path):
    a, b = managed_accounts.add("claude"), managed_accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"status": 429, "reset_in": 7200})
    client = anthropic.Anthropic(base_url=managed_gateway.url, api_key=managed_gateway.client_key, max_retries=0)
    for _ in range(3):
        client.messages.create(model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "hi"}])

    dom = dump_dom(managed_gateway.url + "/ui", tmp_path / "profile")

    blocked, healthy = cells(row(dom, "account", a.email)), cells(row(dom, "account", b.email))
    assert blocked[:3] == [a.email, "claude", "blocked"]
    assert re.fullmatch(r"1h 59m|2h 0m", blocked[4])  # the reset countdown
    assert healthy[:3] == [b.email, "claude", "ok"] and healthy[4] == "-"
    assert int(healthy[6]) == 3  # requests served by b
    model = cells(row(dom, "model", MODEL))
    assert int(model[1].replace(",", "")) >= 4 and int(model[2].replace(",", "")) > 0
    assert "rate_limited" in dom and "<rect" in dom and "<polyline" in dom  # error list and the chart
