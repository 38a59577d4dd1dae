"""`a2d` command line: each subcommand parses, builds a config and calls one library function."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from a2d_edge import __version__
from a2d_edge.config import RESUME_OVERRIDES
from a2d_edge.errors import A2DError
from a2d_edge.utils.cli import run_cli


def start_distributed(device: str = "cpu"):  # type: ignore[no-untyped-def]
    """torchrun's process group for the run's device (gloo on CPU, nccl on CUDA), or none."""
    from a2d_edge.utils.accel import resolve_device
    from a2d_edge.utils.dist import init_from_env

    return init_from_env(resolve_device(device).type)


def _start_on_main(start, out, dist):  # type: ignore[no-untyped-def]
    """Rank 0 creates the run folder; the other ranks wait for it."""
    from a2d_edge.utils.dist import barrier

    run_dir = start() if dist.main else out
    barrier(dist)
    return run_dir


def _cmd_train(args: argparse.Namespace) -> int:
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.rl.trainer import start_run, train

    cfg = _resolve_config(args, TrainConfig, "train")
    dist = start_distributed(cfg.device)
    run_dir = args.resume or _start_on_main(lambda: start_run(cfg, args.out), args.out, dist)
    result = train(cfg, run_dir, resume=bool(args.resume), dist=dist)
    if not dist.main:
        return 0
    final = "n/a" if result.final_eval is None else f"{result.final_eval:.2f}"
    print(
        f"done: {result.step} steps, {result.steps_per_second:,.0f} steps/s, "
        f"last eval {final}; checkpoint {result.run_dir / 'agent.pt'}"
    )
    return 0


def _resolve_config(args: argparse.Namespace, cls: type, kind: str):  # type: ignore[no-untyped-def]
    """A new run's settings (defaults < --config file < flags), or a resumed run's own."""
    from a2d_edge.config import build_config
    from a2d_edge.experiments.spec import settings_layer
    from a2d_edge.rl.trainer import load_run_config

    names = {f.name for f in dataclasses.fields(cls)}
    flags = {k: v for k, v in vars(args).items() if k in names}
    if args.resume:
        cfg = load_run_config(args.resume, cls, kind)
        other = [k for k, v in flags.items() if v is not None and k not in RESUME_OVERRIDES]
        if other or args.config:
            raise A2DError(
                f"--resume continues a run with its own settings; only "
                f"{', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDES)} may change"
            )
        return build_config(cls, vars(cfg), flags)
    if not args.out:
        raise A2DError(f"a2d {kind} needs --out RUN_DIR (or --resume RUN_DIR)")
    file_layer = {}
    if args.config:
        file_layer = settings_layer(args.config, cls, kind, flags.get("env"))
        flags["env"] = None  # the layer's env is final: the flag's, matched to the file's games
    return build_config(cls, file_layer, flags)


def _cmd_search(args: argparse.Namespace) -> int:
    from a2d_edge.rl.trainer import start_run
    from a2d_edge.search.config import SearchConfig
    from a2d_edge.search.loop import prepare, search

    cfg = _resolve_config(args, SearchConfig, "search")
    prepare(cfg, say=False)  # bad table / infeasible budget: refused before anything is written
    dist = start_distributed(cfg.device)
    run_dir = args.resume or _start_on_main(
        lambda: start_run(cfg, args.out, kind="search"), args.out, dist
    )
    result = search(cfg, run_dir, resume=bool(args.resume), dist=dist)
    if not dist.main:
        return 0
    final = "n/a" if result.final_eval is None else f"{result.final_eval:.2f}"
    print(
        f"done: {result.step} steps; derived {result.flops / 1e6:.2f} MFLOPs, last derived-net "
        f"eval {final}; {result.run_dir / 'arch.json'}, {result.run_dir / 'search.json'}"
    )
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from a2d_edge.experiments.sweep import parse_sets, parse_shard, run_sweep

    games = [g for item in args.games or [] for g in item.split(",") if g]
    result = run_sweep(
        args.file,
        args.out,
        games=games,
        sets=parse_sets(args.set or []),
        seeds=args.seeds or (),
        dry_run=args.dry_run,
        shard=parse_shard(args.shard),
    )
    if not args.dry_run:
        done = sum(result.states[r.name].status == "done" for r in result.mine)
        print(f"sweep: {done} of {len(result.mine)} run(s) done; {args.out}/sweep.json")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from a2d_edge.experiments.report import write_report

    report = write_report(args.runs, args.out)
    print(report.markdown)
    print(f"report: {args.out}/report.md, report.json, {len(report.figures)} figure(s)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from a2d_edge.export.bundle import ExportSettings, export_bundle

    settings = ExportSettings(
        int8=args.int8,
        target=args.target,
        int8_recipe=args.int8_recipe or "",
        tensorrt=args.tensorrt or "",
        min_agreement=args.min_agreement,
        tie_margin=args.tie_margin,
        frames=args.frames,
        seed=args.seed,
        force=args.force,
    )
    manifest = export_bundle(args.checkpoint, args.out, settings)
    print(f"bundle {args.out}: {', '.join(f'{k}={v}' for k, v in manifest['models'].items())}")
    if manifest["int8_graph"]:
        g = manifest["int8_graph"]
        print(f"  int8 recipe {g['recipe']} for {g['target']} ({g['recipe_detail']['summary']}); "
              f"gated on {g['verified_on']['how']}")  # fmt: skip
    for name, v in manifest["verification"].items():
        if isinstance(v, dict):
            print(
                f"  {name}: action agreement {100 * v['action_agreement']:.2f}% on "
                f"{v['frames']} frames ({100 * v['decisive_agreement']:.2f}% on the "
                f"{100 * v['decisive_frames']:.0f}% not tied; widest flipped gap "
                f"{v['flipped_max_gap']:.3f}), "
                f"policy TV {v['policy_tv_mean']:.1e}, "
                f"max |Δlogit| {v['logits_max_abs_diff']:.2e}, "
                f"max |Δvalue| {v['value_max_abs_diff']:.2e}"
            )
    if manifest["tensorrt"] and not manifest["tensorrt"]["engine"]:
        print(f"  TensorRT not here: on the device run {args.out}/build_engine.sh")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from a2d_edge.runtime.loop import RunSettings, run_agent, summary
    from a2d_edge.runtime.policy import PolicySpec
    from a2d_edge.runtime.realtime import RealtimeSettings, parse_cpus

    settings = RunSettings(
        env_id=args.env,
        episodes=args.episodes,
        hz=args.hz,
        deadline_ms=args.deadline_ms,
        overrun=args.overrun,
        greedy=args.greedy,
        seed=args.seed,
        max_steps=args.max_steps,
        status=not args.quiet and sys.stderr.isatty(),
        record=args.record or "",
        spin_ms=args.spin_ms,
        prewarm=args.prewarm,
        realtime=RealtimeSettings(
            parse_cpus(args.cpus) if args.cpus else frozenset(), args.rt_priority, args.lock_memory
        ),
    )
    spec = PolicySpec(args.backend, args.precision, args.threads)
    prediction = lut_prediction(args.lut, args.bundle, settings.pacing, spec) if args.lut else None
    report = run_agent(args.bundle, settings, spec, args.report, prediction=prediction)
    print(summary(report))
    if args.report:
        print(f"report: {args.report}")
    return 130 if report["interrupted"] else 0


def lut_prediction(path: str, bundle_dir: str, pacing: Any, spec: Any) -> dict[str, Any]:
    """`a2d run --lut`: the table (the one beside `path` timed as this run waits, when there
    is one) and its prediction for the bundle's arch."""
    from a2d_edge.hw.lut import LatencyTable, host_mismatch, resolve_for_run
    from a2d_edge.runtime.bundle import load_bundle
    from a2d_edge.runtime.policy import model_key

    table_path = resolve_for_run(path, pacing)
    table = LatencyTable.load(table_path)
    bundle = load_bundle(bundle_dir)
    arch = bundle.manifest["arch"]
    runs = model_key(bundle, spec)
    if table.meta.get("precision") != runs.removeprefix("tensorrt-"):
        print(f"a2d run: warning: table {table_path} times {table.meta.get('precision')}, this "
              f"run runs the {runs} model", file=sys.stderr)  # fmt: skip
    match = table.host_match()
    if match != "same":
        print(f"a2d run: warning: {host_mismatch(table_path, table)}: its prediction is not of "
              "this host", file=sys.stderr)  # fmt: skip
    return {
        "table": str(table_path),
        "mode": table.describe_mode(),
        "precision": table.meta.get("precision"),
        "predicted_ms": table.predict(arch),
        "table_host": match,
    }


def _cmd_eval(args: argparse.Namespace) -> int:
    from a2d_edge.rl.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.episodes, args.seed, args.greedy)
    print(f"{len(result.scores)} episodes: mean {result.mean:.2f} ± {result.std:.2f}")
    if args.json:
        print(json.dumps({"mean": result.mean, "std": result.std, "episodes": len(result.scores)}))
    return 0


def _cmd_arch_info(args: argparse.Namespace) -> int:
    from a2d_edge.hw.flops import count_params, fvcore_flops
    from a2d_edge.nets import build_agent, load_arch

    arch = load_arch(args.arch)
    model = build_agent(arch, args.actions)
    params, flops = count_params(model), fvcore_flops(model)
    if args.json:
        print(json.dumps({"arch": arch, "params": params, "flops": flops}))
    else:
        print(
            f"{args.arch}: {params / 1e6:.3f} M params, {flops / 1e6:.2f} M FLOPs "
            f"(fvcore, 1 multiply-add = 1 flop, batch 1, 4x84x84, {args.actions} actions)"
        )
    return 0


def _cmd_envs(args: argparse.Namespace) -> int:
    from a2d_edge.envs import list_env_ids

    print("\n".join(list_env_ids()))
    return 0


def _parser() -> argparse.ArgumentParser:
    from a2d_edge.config import add_config_args
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.search.config import SearchConfig

    p = argparse.ArgumentParser(prog="a2d", description=__doc__)
    p.add_argument("--version", action="version", version=f"a2d-edge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an A2C agent (paper settings by default)")
    t.add_argument("--out", help="run folder to create")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a killed or stopped run")
    t.add_argument("--config", help="YAML/JSON file of settings (flags override it)")
    add_config_args(t, TrainConfig)
    t.set_defaults(handler=_cmd_train)

    s = sub.add_parser("search", help="A2D architecture search (distilled Gumbel-softmax DNAS)")
    s.add_argument("--out", help="run folder to create")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed search")
    s.add_argument("--config", help="YAML/JSON file of settings (flags override it)")
    add_config_args(s, SearchConfig, skip=("arch", "update", "init"))
    s.set_defaults(handler=_cmd_search)

    w = sub.add_parser("sweep", help="run every run of an experiment file (games x grid x seeds)")
    w.add_argument("file", help="experiment file (configs/table1.yaml, ...)")
    w.add_argument("--out", required=True, help="folder of the runs (DIR/<game>/<grid>-s<seed>)")
    w.add_argument(
        "--games", nargs="+", action="extend", help="only these games (ids or short names)"
    )
    w.add_argument(
        "--set",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="override a setting of every run (repeatable: --set steps=2e5 num_envs=8); on a "
        "grid key, keep only that value (--set arch=resnet20)",
    )
    w.add_argument(
        "--seeds", nargs="+", type=int, help="these seeds instead of the file's (e.g. 0 1 2)"
    )
    w.add_argument("--dry-run", action="store_true", help="list the runs and settings only")
    w.add_argument("--shard", metavar="K/N", help="run every N-th run from K (0 <= K < N)")
    w.set_defaults(handler=_cmd_sweep)

    o = sub.add_parser("report", help="paper-style tables and plots from run folders")
    o.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders or folders above them")
    o.add_argument("--out", required=True, help="folder for report.md, report.json, *.png")
    o.set_defaults(handler=_cmd_report)

    x = sub.add_parser("export", help="verified ONNX fp32 / INT8 / TensorRT bundle of an agent")
    x.add_argument("checkpoint", help="agent.pt path or zoo:NAME")
    x.add_argument("--out", required=True, help="bundle folder to write")
    x.add_argument(
        "--int8",
        action="store_true",
        help="add ORT static INT8 (QDQ), by the recipe of --target's instruction set",
    )
    x.add_argument(
        "--target",
        default="host",
        choices=["host", "x86-vnni", "x86-avx2", "arm64"],
        help="the CPU the INT8 model is for: host (this one), x86-vnni (AVX-512 VNNI / AVX-VNNI "
        "/ AMX: U8S8), x86-avx2 (no VNNI: 7-bit weights, no saturation), arm64 (U8S8); a "
        "target other than this host is gated on the QDQ graph's exact arithmetic",
    )
    x.add_argument(
        "--int8-recipe",
        choices=["u8s8", "u8s8-rr", "u8u8"],
        help="override the target's INT8 recipe",
    )
    x.add_argument("--tensorrt", choices=["fp16", "int8"], help="TensorRT engine (or recipe)")
    x.add_argument(
        "--min-agreement",
        type=float,
        default=0.99,
        help="INT8 greedy-action agreement with fp32 required (default 0.99)",
    )
    x.add_argument(
        "--tie-margin",
        type=float,
        default=0.05,
        help="the agreement gate skips frames whose fp32 top-two logits are closer than this "
        "(ties any rounding flips, e.g. Pong's FIRE vs NOOP); 0 gates on every frame",
    )
    x.add_argument(
        "--frames", type=int, default=512, help="real frames: half calibrate, half verify"
    )
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--force", action="store_true", help="replace a bundle / keep a low agreement")
    x.set_defaults(handler=_cmd_export)

    r = sub.add_parser("run", help="run a bundle as a fixed-rate controller (torch-free)")
    r.add_argument("bundle", help="bundle folder (a2d export)")
    r.add_argument("--env", help="env id (default: the bundle's game)")
    r.add_argument("--episodes", type=int, default=1)
    r.add_argument("--hz", type=float, default=15.0, help="control rate; 0 runs free")
    r.add_argument("--deadline-ms", type=float, default=0.0, help="default: the whole period")
    r.add_argument(
        "--spin-ms",
        type=float,
        default=0.0,
        help="busy-wait the last SPIN ms before each tick instead of sleeping (a core woken "
        "from sleep runs the next inference slower; costs that much CPU per period)",
    )
    r.add_argument(
        "--prewarm",
        action="store_true",
        help="run one discarded inference at the start of the spin window (set --spin-ms above "
        "the inference time) so the timed one finds warm caches",
    )
    r.add_argument(
        "--cpus",
        metavar="LIST",
        help="pin the loop (env and inference threads) to these CPUs, e.g. 3 or 2-3 (taskset "
        "syntax); a pinned loop is never migrated to a core with cold caches",
    )
    r.add_argument(
        "--rt-priority",
        type=int,
        default=0,
        metavar="P",
        help="run the loop under SCHED_FIFO at priority P (1-99; needs root, CAP_SYS_NICE or "
        "ulimit -r P) so ordinary processes cannot preempt it; with --hz 0 it holds its core "
        "(the kernel's RT throttling leaves others 5%%)",
    )
    r.add_argument(
        "--lock-memory",
        action="store_true",
        help="mlockall: keep the loop's pages in RAM (no page fault inside a period); for the "
        "CPU backends (untested with CUDA/TensorRT, whose large mappings it would pin)",
    )
    r.add_argument(
        "--overrun",
        choices=["repeat", "late"],
        default="repeat",
        help="on a missed deadline: repeat the last action, or apply the late one",
    )
    r.add_argument(
        "--backend", choices=["ort-cpu", "ort-cuda", "ort-tensorrt", "tensorrt"], default="ort-cpu"
    )
    r.add_argument(
        "--precision",
        choices=["int8", "fp32"],
        default="int8",
        help="model to run (int8 falls back to fp32 if the bundle has none)",
    )
    r.add_argument("--threads", type=int, default=1)
    r.add_argument(
        "--lut",
        metavar="TABLE",
        help="latency table to judge the run by: its prediction for the bundle's arch (the "
        "table beside TABLE timed at this --hz / --spin-ms / --prewarm when there is one) is "
        "printed and reported beside the measured p50 / p99",
    )
    r.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--max-steps", type=int, default=0, help="stop after this many steps")
    r.add_argument("--report", help="write the run report (JSON) here")
    r.add_argument("--record", help="write a video of the agent's view (.gif or .mp4)")
    r.add_argument("--quiet", action="store_true", help="no live status line")
    r.set_defaults(handler=_cmd_run)

    e = sub.add_parser("eval", help="30-episode no-op-start evaluation of a checkpoint")
    e.add_argument("checkpoint", help="agent.pt path or zoo:NAME")
    e.add_argument("--episodes", type=int, default=30)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    e.add_argument("--json", action="store_true", help="last line: {mean, std, episodes}")
    e.set_defaults(handler=_cmd_eval)

    a = sub.add_parser("arch-info", help="params and FLOPs of an architecture")
    a.add_argument("arch", help="nature | resnet14|20|38|74 | path to arch.json")
    a.add_argument("--actions", type=int, default=6, help="action count for the heads")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=_cmd_arch_info)

    v = sub.add_parser("envs", help="list the valid env ids")
    v.set_defaults(handler=_cmd_envs)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_parser(), argv)
