"""What a subscription upstream says about an account's limits, in one provider-neutral shape.

Both subscription backends report, on every answer (successes, 429s, and streams before their first
event), how much of the account's short (5-hour) and long (weekly) windows is used and when each window
resets. Each provider package turns its own headers into a `UsageReading`; the gateway keeps the latest
reading per account and never needs to know the header names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

FIVE_HOURS_MINUTES = 300
WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Window:
    """One limit window: percent used (0-100, may exceed 100), when it resets (unix s), its length."""

    used_percent: float
    resets_at: float | None = None
    window_minutes: int | None = None
    status: str = ""  # the upstream's word for it when it gives one: allowed, allowed_warning, rejected

    def as_dict(self) -> dict[str, Any]:
        return {"used_percent": self.used_percent, "resets_at": self.resets_at,
                "window_minutes": self.window_minutes, "status": self.status}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Window | None":
        try:
            used = float(data["used_percent"])
        except (KeyError, TypeError, ValueError):
            return None
        resets = data.get("resets_at")
        minutes = data.get("window_minutes")
        return cls(
            used_percent=used,
            resets_at=float(resets) if isinstance(resets, (int, float)) else None,
            window_minutes=int(minutes) if isinstance(minutes, (int, float)) else None,
            status=str(data.get("status") or ""),
        )


@dataclass(frozen=True)
class UsageReading:
    """The 5-hour and weekly windows of one answer, plus the upstream's overall verdict.

    `limited` is True when the upstream says the account is over a limit right now (Anthropic's unified
    status `rejected`, a Codex `x-codex-rate-limit-reached-type`); `claim` names the window that decides
    (Anthropic's representative claim: five_hour, seven_day, ...).
    """

    five_hour: Window | None = None
    weekly: Window | None = None
    status: str = ""
    claim: str = ""
    limited: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "five_hour": self.five_hour.as_dict() if self.five_hour else None,
            "weekly": self.weekly.as_dict() if self.weekly else None,
            "status": self.status,
            "claim": self.claim,
            "limited": self.limited,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UsageReading":
        def window(key: str) -> Window | None:
            value = data.get(key)
            return Window.from_dict(value) if isinstance(value, Mapping) else None

        return cls(five_hour=window("five_hour"), weekly=window("weekly"), status=str(data.get("status") or ""),
                   claim=str(data.get("claim") or ""), limited=bool(data.get("limited")))


def lower_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Header names lower-cased, with LiteLLM's `llm_provider-` prefix (its copy of upstream headers) removed."""
    out: dict[str, str] = {}
    for key, value in headers.items():
        name = str(key).lower().removeprefix("llm_provider-")
        out.setdefault(name, str(value))
    return out


def number(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN is not a number here
