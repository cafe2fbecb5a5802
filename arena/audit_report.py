"""What `jeval arena audit` prints: one record per flagged vote (JSON), or a Markdown table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from jeval.arena.audit import RULES, Finding
from jeval.arena.store import VoteRecord


def report(votes: Sequence[VoteRecord], findings: Sequence[Finding],
           recorded: dict[str, list[tuple[str, str, float]]], new: int, excluding: bool) -> dict[str, Any]:
    by_vote: dict[str, list[Finding]] = {}
    for f in findings:
        by_vote.setdefault(f.battle_id, []).append(f)
    flagged = []
    for v in votes:
        if v.battle_id not in by_vote:
            continue
        flagged.append({
            "vote": v.battle_id, "tstamp": v.tstamp, "time": _utc(v.tstamp), "mode": v.mode,
            "model_a": v.model_a, "model_b": v.model_b, "winner": v.winner, "chosen": v.chosen,
            "client": {"address": v.voter.address, "login": v.voter.login, "session": v.session},
            "findings": [{"rule": f.rule, "reason": f.reason} for f in by_vote[v.battle_id]],
            "excluded": [rule for rule, _, _ in recorded.get(v.battle_id, [])],
        })
    counts = {rule: sum(f.rule == rule for f in findings) for rule in RULES}
    return {"votes": len(votes), "flagged": flagged, "counts": counts,
            "exclusions": {"recorded_now": new if excluding else None,
                           "votes_excluded": len(recorded), "rows": sum(len(r) for r in recorded.values())}}


def _utc(tstamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(tstamp))


def _client(client: dict[str, str | None]) -> str:
    if client["address"]:
        return f"address {client['address'][:8]}"
    return f"session {client['session'][:8]}" if client["session"] else "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(result: dict[str, Any]) -> str:
    lines = ["| vote | time (UTC) | client | user | voted for | rules | excluded | reasons |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["flagged"]:
        chosen = row["chosen"] or row["winner"]
        lines.append("| " + " | ".join(_cell(c) for c in (
            row["vote"][:12], row["time"], _client(row["client"]),
            row["client"]["login"][:8] if row["client"]["login"] else "-", chosen,
            ", ".join(f["rule"] for f in row["findings"]), ", ".join(row["excluded"]) or "-",
            "; ".join(f["reason"] for f in row["findings"]))) + " |")
    counts = ", ".join(f"{rule} {n}" for rule, n in result["counts"].items())
    excl = result["exclusions"]
    now = "" if excl["recorded_now"] is None else f"{excl['recorded_now']} exclusions recorded now; "
    summary = (f"\n{result['votes']} votes audited, {len(result['flagged'])} flagged ({counts}); {now}"
               f"{excl['votes_excluded']} votes excluded from the ratings in all")
    if not result["flagged"]:
        return f"No suspicious votes among {result['votes']}.\n{summary.strip()}\n"
    return "\n".join(lines) + "\n" + summary + "\n"
