"""Does the selection's proxy rank archs as training does? (issue 18: why the search ties the
random archs at 1/3 of the teacher)

The distillation search selects by a proxy: an arch's held-out distillation loss with the
supernet's weights (BN recomputed, `--judge-adapt-steps` Adam steps of few-shot adaptation).
This judges every arch of a kept series (`results/distill-pong-s9`) that belongs to the
supernet's space (searched, RL-searched and random archs; the hand-made nets are of another
family) exactly as the selection does, at several adaptation lengths, and prints the rank
correlation (Kendall's tau-b, Spearman's rho) of the proxy against the scores those archs reached
when trained by the recipe: +1 means the proxy orders them as training does. Scores are the
30-episode finals, pooled with the series' eval100.json where an arch got 100 more episodes.

With --trained RUNS (the series' run folders, with their agent.pt), the trained agents
themselves are judged on the same held-out frames: the ceiling of any loss proxy, since the
proxy can rank archs no better than the loss of the nets that training made of them.

    python -m tools.proxy_rank results/distill-pong-s9 --supernet zoo:pong-fast \\
        --adapt-steps 0 20 100 --trained runs/distill-pong-s9
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import machine, table


def pooled_score(row: dict[str, Any], more: dict[str, Any] | None) -> tuple[float, int]:
    """The row's 30-episode mean pooled with its extra episodes, and the episode count (pure)."""
    from a2d_edge.utils.stats import pool

    s = row["score"]
    mean, n = float(s["mean"]), int(s["episodes"])
    if more:
        mean, _, n = pool((mean, 0.0, n), (float(more["mean"]), 0.0, int(more["episodes"])))
    return mean, n


def space_rows(rows: list[dict[str, Any]], space: Any) -> list[dict[str, Any]]:
    """The rows whose arch is a path of `space` (a SearchSpace), one per arch."""
    from a2d_edge.nets.space import SearchSpace

    seen: set[tuple[str, ...]] = set()
    out = []
    for r in rows:
        arch = r.get("arch") or {}
        if arch.get("family") != "searched" or SearchSpace.from_dict(arch["space"]) != space:
            continue
        ops = tuple(arch["ops"])
        if ops not in seen:
            seen.add(ops)
            out.append(r)
    return out


def known_judgements(path: Path, supernet: str, seed: int) -> dict[str, dict[str, Any]]:
    """An earlier pass's results ({adapt steps: {"judged": {run: judgement}, ...}}) with the
    same supernet and frames, so that new scores (eval100.json) or new archs re-judge only
    what is missing."""
    if not path.exists():
        return {}
    from a2d_edge.utils.io import read_json

    old = read_json(path, "proxy-rank results")  # a corrupt file: one line, not a traceback
    if old.get("supernet") != supernet or old.get("seed") != seed:
        return {}
    return dict(old.get("by_adapt_steps", {}))


def window_mean(rows: list[dict[str, Any]], key: str, lo: int, hi: int) -> float | None:
    """The mean of `key` over the training rows logged at steps in (lo, hi] (pure)."""
    xs = [float(r[key]) for r in rows if r.get("kind") == "train" and key in r
          and lo < int(r["step"]) <= hi]  # fmt: skip
    return sum(xs) / len(xs) if xs else None


WINDOWS = ((0, 50_000), (250_000, 300_000))  # the finish's first and last 5e4 steps


def judge_trained(
    runs: Path,
    rows: list[dict[str, Any]],
    extra: dict[str, Any],
    cfg: Any,
    frames: Callable[[], Any],
) -> dict[str, Any]:
    """Every run of the series with an agent.pt under `runs`, trained by the recipe, judged on
    the selection's held-out frames; the rank correlation of that loss with the scores, over
    all of them and over the space's archs alone (the proxy's set)."""
    from a2d_edge.errors import A2DError
    from a2d_edge.search.select import judge_agent
    from a2d_edge.sources.checkpoint import load_agent
    from a2d_edge.utils.logging import read_jsonl
    from a2d_edge.utils.stats import kendall_tau_b, spearman

    judged: dict[str, dict[str, Any]] = {}
    for r in rows:
        path = runs / r["run"] / "agent.pt"
        if not path.exists() or not isinstance(r.get("score"), dict):
            continue
        agent, _ = load_agent(path)
        j = judge_agent(agent, frames(), cfg.temperature, cfg.value_weight)
        mean, n = pooled_score(r, extra.get(r["run"]))
        searched = (r.get("arch") or {}).get("family") == "searched"
        curve = runs / r["run"] / "finish" / "metrics.jsonl"
        logged = read_jsonl(curve) if curve.exists() else []
        kls = {f"{lo}-{hi}": window_mean(logged, "distill/kl", lo, hi) for lo, hi in WINDOWS}
        judged[r["run"]] = {**j.to_dict(), "score": mean, "episodes": n, "searched": searched,
                            "train_kl": kls}  # fmt: skip
    if len(judged) < 3:
        raise A2DError(f"{runs}: {len(judged)} trained agents of the series; need 3")

    def taus(names: list[str]) -> dict[str, Any]:
        fit = [-judged[n]["loss"] for n in names]
        agree = [judged[n]["agreement"] for n in names]
        means = [judged[n]["score"] for n in names]
        out: dict[str, Any] = {
            "n": len(names),
            "kendall_loss": kendall_tau_b(fit, means),
            "spearman_loss": spearman(fit, means),
            "kendall_agreement": kendall_tau_b(agree, means),
        }
        for w in (f"{lo}-{hi}" for lo, hi in WINDOWS):  # the training batches' KL, logged
            kl = [judged[n]["train_kl"][w] for n in names]
            if all(k is not None for k in kl):
                out[f"kendall_train_kl_{w}"] = kendall_tau_b([-k for k in kl], means)
        return out

    every = sorted(judged)
    searched = [n for n in every if judged[n]["searched"]]
    return {
        "all": taus(every),
        "searched": taus(searched) if len(searched) >= 3 else None,  # the proxy's set
        "judged": judged,
    }


def trained_lines(res: dict[str, Any]) -> str:
    body = [
        [n, f"{j['score']:.2f} ({j['episodes']})", f"{j['loss']:.3f}", f"{j['agreement']:.2f}"]
        for n, j in sorted(res["judged"].items(), key=lambda kv: kv[1]["loss"])
    ]
    lines = [table(["trained agent", "score (episodes)", "held-out loss", "agreement"], body)]
    for key in ("all", "searched"):
        t = res[key]
        if t is None:
            continue
        lines.append(
            f"trained agents ({key}, {t['n']}): Kendall tau-b {t['kendall_loss']:+.2f}, "
            f"Spearman {t['spearman_loss']:+.2f} (loss vs score); tau-b of agreement "
            f"{t['kendall_agreement']:+.2f}"
        )
        for w in (f"{lo}-{hi}" for lo, hi in WINDOWS):
            if f"kendall_train_kl_{w}" in t:
                lines.append(
                    f"  the finish's training-batch KL over steps {w}: Kendall tau-b "
                    f"{t[f'kendall_train_kl_{w}']:+.2f}"
                )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("series", help="a kept series folder (its summary.json)")
    p.add_argument("--supernet", required=True, help="DIR|zoo:NAME the series selected from")
    p.add_argument("--adapt-steps", type=int, nargs="+", default=[0, 20, 100])
    p.add_argument("--seed", type=int, default=0, help="of the held-out frames the teacher plays")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--trained",
        default="",
        help="the series' run folders (RUNS/<run>/agent.pt): judge the trained agents too",
    )
    p.add_argument("--out", default="", help="the JSON (default SERIES/proxy-rank-sSEED.json)")
    args = p.parse_args()

    import torch

    from a2d_edge.errors import A2DError
    from a2d_edge.nets.space import searched_arch
    from a2d_edge.nets.supernet import Supernet
    from a2d_edge.search.config import SearchConfig
    from a2d_edge.search.frames import judging_frames, supernet_frames
    from a2d_edge.search.select import Judgement, judge_ops
    from a2d_edge.search.start import check_start
    from a2d_edge.utils.io import read_json, write_json
    from a2d_edge.utils.stats import kendall_tau_b, spearman

    series = Path(args.series)
    summary = read_json(series / "summary.json", "series summary")
    extra_path = series / "eval100.json"
    extra = read_json(extra_path, "eval100")["results"] if extra_path.exists() else {}
    if not summary.get("rows"):
        raise A2DError(f"{series}/summary.json lists no runs")
    env = summary["rows"][0]["env_id"]
    cfg = SearchConfig(env=env, teacher=summary["teacher"], supernet=args.supernet, seed=args.seed)
    start = check_start(cfg)
    assert start.reused is not None
    supernet, source = start.reused
    if not isinstance(supernet, Supernet):
        raise A2DError(f"{source} is a width supernet: proxy_rank ranks op archs")
    rows = space_rows(summary["rows"], supernet.space)
    if len(rows) < 3:
        raise A2DError(f"{series}: {len(rows)} archs of space {supernet.space.name!r}; need 3")
    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else series / f"proxy-rank-s{args.seed}.json"
    earlier = known_judgements(out, args.supernet, args.seed)
    scores = [pooled_score(r, extra.get(r["run"])) for r in rows]
    held: list[Any] = []  # the frames, played only when a judgement is missing

    def frames() -> tuple[Any, Any]:  # (BN frames, judged frames), as select_arch's
        if not held:
            held.extend(
                judging_frames(
                    supernet_frames(cfg, source, start.teacher), cfg.bn_frames, cfg.judge_frames
                )
            )
        return held[0], held[1]

    def judge(ops: tuple[str, ...], k: int) -> Judgement:  # as select_arch judges
        return judge_ops(cfg, supernet, frames(), searched_arch(supernet.space, list(ops)), k)

    results: dict[str, Any] = {}
    for k in args.adapt_steps:
        t = time.perf_counter()
        before = earlier.get(str(k), {})
        known = before.get("judged", {})
        judged = [
            Judgement(**known[r["run"]]) if r["run"] in known else judge(tuple(r["arch"]["ops"]), k)
            for r in rows
        ]
        fit = [-j.loss for j in judged]  # higher is better, as a score
        agree = [j.agreement for j in judged]
        means = [s for s, _ in scores]
        results[str(k)] = {
            "seconds": (
                before.get("seconds", 0.0)
                if all(r["run"] in known for r in rows)
                else round(time.perf_counter() - t, 1)
            ),
            "kendall_loss": kendall_tau_b(fit, means),
            "spearman_loss": spearman(fit, means),
            "kendall_agreement": kendall_tau_b(agree, means),
            "judged": {r["run"]: j.to_dict() for r, j in zip(rows, judged, strict=True)},
        }
    print(machine())
    print(f"{len(rows)} archs of space {supernet.space.name!r} in {series}, {args.supernet}")
    head = ["run", "ops", "score (episodes)"] + [f"loss / agree @{k}" for k in args.adapt_steps]
    body = []
    for r, (mean, n) in zip(rows, scores, strict=True):
        js = [results[str(k)]["judged"][r["run"]] for k in args.adapt_steps]
        cells = [f"{j['loss']:.3f} / {j['agreement']:.2f}" for j in js]
        body.append([r["run"], ", ".join(r["arch"]["ops"]), f"{mean:.2f} ({n})", *cells])
    print(table(head, body))
    for k in args.adapt_steps:
        res = results[str(k)]
        print(
            f"adapt {k}: Kendall tau-b {res['kendall_loss']:+.2f}, Spearman "
            f"{res['spearman_loss']:+.2f} (loss vs score); tau-b of agreement "
            f"{res['kendall_agreement']:+.2f}; {res['seconds']} s"
        )
    trained = None
    if args.trained:
        trained = judge_trained(
            Path(args.trained), summary["rows"], extra, cfg, lambda: frames()[1]
        )
        print(trained_lines(trained))
    write_json(
        out,
        {
            "command": " ".join(["python", "tools/proxy_rank.py", *sys.argv[1:]]),
            "host": machine(),
            "supernet": args.supernet,
            "seed": args.seed,
            "scores": {
                r["run"]: {"mean": m, "episodes": n} for r, (m, n) in zip(rows, scores, strict=True)
            },
            "by_adapt_steps": results,
            **({"trained": trained} if trained else {}),
        },
    )
    print(f"written: {out}")


if __name__ == "__main__":
    from a2d_edge.errors import A2DError

    try:
        main()
    except A2DError as e:  # a malformed summary, an unknown teacher or supernet
        raise SystemExit(f"proxy_rank: {e}") from None
