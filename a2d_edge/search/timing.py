"""The measured latency a search, `a2d distill` and `--budget-of-teacher` report: one sitting
(`hw.sitting`) with a table's backend and settings (`search.prepare.measure_here`)."""

from __future__ import annotations

from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.hw.sitting import ROUNDS, NetTiming, Sitting, judge_budget, time_sitting
from a2d_edge.hw.table import Table
from a2d_edge.search.prepare import measure_here


def sitting_here(
    table: Table, nets: dict[str, Any], n_actions: int | None = None, rounds: int = ROUNDS
) -> Sitting:
    """Each arch of `nets` timed here as the table's entries were, in one sitting."""
    return time_sitting(lambda arch: measure_here(table, arch, n_actions), nets, rounds)


def teacher_timing(table: Table, arch: dict[str, Any], rounds: int = ROUNDS) -> NetTiming:
    """The teacher's rounds alone (its own game's head is the table's: a budget is a share of
    the net as the table times every candidate)."""
    timed = sitting_here(table, {"teacher": arch}, None, rounds).timed("teacher")
    if timed is None:
        raise A2DError(f"could not time the teacher with {table.path}'s backend")
    return timed


def measured_beside_teacher(
    table: Table,
    arch: dict[str, Any],
    teacher: str,
    n_actions: int,
    budget_ms: float | None = None,
    rounds: int = ROUNDS,
) -> dict[str, Any]:
    """The agent and its teacher (a checkpoint spec; '' for none) timed here in one sitting:
    the fields a result keeps (`measured_ms`: the agent's fastest round, `measured_median_ms`,
    `measured`: every figure of the sitting, with the budget's verdict), the verdict's line
    printed."""
    from a2d_edge.sources.checkpoint import load_checkpoint

    nets = {"agent": arch}
    if teacher:
        nets["teacher"] = load_checkpoint(teacher)["arch"]
    sitting = sitting_here(table, nets, n_actions, rounds)
    record = sitting.record("agent", "teacher" if teacher else None)
    record["table"] = table.path
    agent = sitting.timed("agent")
    if agent is not None and budget_ms:
        verdict = judge_budget(agent.fastest_ms, budget_ms, agent.spread)
        record["judgement"] = verdict.to_dict()
        print(verdict.line, flush=True)
    return {
        "measured_ms": agent.fastest_ms if agent else None,
        "measured_median_ms": agent.median_ms if agent else None,
        "measured": record,
    }


def describe_measured(measured: dict[str, Any]) -> str:
    """One line of a sitting's record (pure): the agent's fastest / median, the teacher's and
    the ratio, with spreads."""
    a, t = measured.get("agent"), measured.get("teacher")
    if not a:
        return "n/a"
    line = (
        f"{a['fastest_ms']:.3f} ms (median {a['median_ms']:.3f}, spread "
        f"{100 * a['spread']:.0f}%, {measured['rounds']} rounds)"
    )
    if t and measured.get("ratio") is not None:
        line += (
            f"; teacher {t['fastest_ms']:.3f} ms; ratio {measured['ratio']:.2f}x "
            f"(spread {100 * measured['ratio_spread']:.0f}%)"
        )
    return line
