"""The side-by-side table and the targets each row is judged against (docs/benchmarks.md)."""

from __future__ import annotations

import math
from typing import Any

# The lean entry's targets: added median / p99 at one client (chat routes translate, so their median
# target is looser), added TTFB the same as the median, 64 clients: p99 and req/s of the gateway,
# stream gap, start-up, RSS per worker after the run.
TARGETS = {"added_median": 3.0, "added_median_chat": 5.0, "added_p99": 6.0, "added_ttfb": 3.0,
           "added_ttfb_chat": 5.0, "load_p99": 200.0, "load_rps": 400.0,
           "stream_gap": 2.0, "startup_s": 4.0, "rss_mb": 300.0}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _verdict(value: float | None, limit: float | None) -> str:
    if value is None or limit is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return "ok" if value <= limit else "MISS"


def latency_rows(name: str, result: dict[str, Any], *, ttfb: bool, chat: bool = False) -> list[dict[str, Any]]:
    """Two rows (median, p99) for one paired phase, or one 'pending/failed' row."""
    if "error" in result:
        return [{"metric": name, "direct": None, "gateway": result["error"], "added": None, "target": None}]
    d, g = result["direct"], result["gateway"]
    rows = []
    for stat in ("median", "p99"):
        added = g[stat] - d[stat]
        suffix = "_chat" if chat else ""
        if ttfb:
            limit = TARGETS["added_ttfb" + suffix] if stat == "median" else None
        else:
            limit = TARGETS["added_median" + suffix] if stat == "median" else (None if chat else TARGETS["added_p99"])
        rows.append({"metric": f"{name} {stat}", "direct": d[stat], "gateway": g[stat], "added": added,
                     "target": limit, "verdict": _verdict(added, limit)})
    return rows


def load_rows(result: dict[str, Any], clients: int) -> list[dict[str, Any]]:
    if "error" in result:
        return [{"metric": f"{clients} clients", "direct": None, "gateway": result["error"], "added": None, "target": None}]
    d, g = result["direct"], result["gateway"]
    added_p99 = g["p99"] - d["p99"]
    return [
        {"metric": f"{clients} clients errors / {g['requests']}", "direct": d["errors"], "gateway": g["errors"],
         "added": None, "target": 0, "verdict": "ok" if g["errors"] == 0 else "MISS"},
        {"metric": f"{clients} clients req/s (target: at least)", "direct": d["rps"], "gateway": g["rps"], "added": None,
         "target": TARGETS["load_rps"], "verdict": "ok" if g["rps"] >= TARGETS["load_rps"] else "MISS"},
        {"metric": f"{clients} clients median", "direct": d["median"], "gateway": g["median"],
         "added": g["median"] - d["median"], "target": None},
        {"metric": f"{clients} clients p99", "direct": d["p99"], "gateway": g["p99"], "added": added_p99,
         "target": TARGETS["load_p99"], "verdict": _verdict(g["p99"], TARGETS["load_p99"])},
    ]


def gap_rows(name: str, result: dict[str, Any], *, judged: bool) -> list[dict[str, Any]]:
    if "error" in result:
        return [{"metric": name, "direct": None, "gateway": result["error"], "added": None, "target": None}]
    d, g = result["direct"], result["gateway"]
    if not judged:  # an unpaced burst measures throughput; its "gap" is queueing, so only the total is shown
        return [{"metric": f"{name} total ms ({g['events']} events)", "direct": d["duration_ms"],
                 "gateway": g["duration_ms"], "added": g["duration_ms"] - d["duration_ms"], "target": None}]
    limit = TARGETS["stream_gap"]
    rows = [{"metric": f"{name} gap median", "direct": d["median"], "gateway": g["median"],
             "added": g["median"] - d["median"], "target": limit, "verdict": _verdict(g["median"], limit)},  # absolute
            {"metric": f"{name} gap p99", "direct": d["p99"], "gateway": g["p99"], "added": g["p99"] - d["p99"],
             "target": None},
            {"metric": f"{name} events / total ms", "direct": f"{d['events']} / {d['duration_ms']:.0f}",
             "gateway": f"{g['events']} / {g['duration_ms']:.0f}", "added": None, "target": None}]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ("metric (ms unless noted)", "direct", "gateway", "added", "target", "")
    lines = [[r["metric"], _fmt(r.get("direct")), _fmt(r.get("gateway")), _fmt(r.get("added")),
              _fmt(r.get("target")), r.get("verdict", "")] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = [" | ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip(),
           "-|-".join("-" * w for w in widths)]
    out += [" | ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)
