"""`a2d` command line: each subcommand parses, builds a config and calls one library function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from a2d_edge import __version__
from a2d_edge.applies import MODES, check_applies, given_settings
from a2d_edge.errors import A2DError
from a2d_edge.experiments.commands import resolve_settings
from a2d_edge.utils.args import (
    OneLineParser,
    check_out_dir,
    check_out_file,
    non_negative_int,
    positive_int,
)
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

    cfg = resolve_settings(args, TrainConfig, "train")
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


def _cmd_search(args: argparse.Namespace) -> int:
    from a2d_edge.search.settings import DistillSearchConfig, run_command_of
    from a2d_edge.search.start import resolve_budget

    if args.resume and run_command_of(args.resume) == "search-rl":
        return _cmd_search_rl(args)  # `a2d search --resume` continues any search run
    cfg = resolve_settings(args, DistillSearchConfig, "search")
    if not args.resume:
        cfg = resolve_budget(cfg)
    return _distill_search(cfg, args)  # its check_start runs prepare


def _cmd_search_rl(args: argparse.Namespace) -> int:
    from a2d_edge.rl.trainer import start_run
    from a2d_edge.search.rl import prepare, search
    from a2d_edge.search.settings import RLSearchConfig

    cfg = resolve_settings(args, RLSearchConfig, "search-rl")
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
    from a2d_edge.experiments.spec import parse_sets, parse_shard
    from a2d_edge.experiments.sweep import run_sweep

    games = [g for item in args.games or [] for g in item.split(",") if g]
    check_out_dir(args.out)
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

    if args.timing_rounds < 1:
        raise A2DError(f"--timing-rounds must be at least 1, not {args.timing_rounds}")
    check_out_dir(args.out)
    report = write_report(args.runs, args.out, args.time_with, args.timing_rounds)
    for w in report.warnings:
        print(f"a2d report: warning: {w}", file=sys.stderr)
    print(report.markdown)
    print(f"report: {args.out}/report.md, report.json, {len(report.figures)} figure(s)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from a2d_edge.config import build_config, flags_for
    from a2d_edge.export.bundle import describe, export_bundle
    from a2d_edge.export.settings import ExportSettings

    flags = flags_for(ExportSettings, args)
    settings = build_config(ExportSettings, flags)
    check_applies(MODES["export"], settings, given_settings(args, flags))
    check_out_dir(args.out)
    manifest = export_bundle(args.checkpoint, args.out, settings)
    print("\n".join(describe(manifest, args.out)))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from a2d_edge.config import build_config, flags_for
    from a2d_edge.runtime.loop import RunSettings, run_agent, summary
    from a2d_edge.runtime.policy import PolicySpec
    from a2d_edge.runtime.realtime import RealtimeSettings

    realtime = build_config(RealtimeSettings, flags_for(RealtimeSettings, args))
    status = not args.quiet and sys.stderr.isatty()
    settings = build_config(RunSettings, flags_for(RunSettings, args),
                            {"realtime": realtime, "status": status})  # fmt: skip
    spec = build_config(PolicySpec, flags_for(PolicySpec, args))
    given = given_settings(args, {**flags_for(RunSettings, args), **flags_for(PolicySpec, args)})
    check_applies(MODES["run"], SimpleNamespace(hz=settings.hz, backend=spec.backend), given)
    if args.no_recalibrate and not args.lut:
        raise A2DError("--no-recalibrate is for --lut (a table to judge the run by): drop it")
    for path, flag in ((args.report, "--report"), (settings.record, "--record")):
        if path:
            check_out_file(path, flag)
    prediction = None
    if args.lut:
        from a2d_edge.hw.drift import bundle_prediction

        prediction = bundle_prediction(args.lut, args.bundle, settings.pacing, spec,
                                       not args.no_recalibrate)  # fmt: skip
    report = run_agent(args.bundle, settings, spec, args.report, prediction=prediction)
    print(summary(report))
    if args.report:
        print(f"report: {args.report}")
    return 130 if report["interrupted"] else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from a2d_edge.rl.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint, args.episodes, args.seed, args.greedy, args.max_frames
    )
    capped = f" (each capped at {args.max_frames:,} frames)" if args.max_frames else ""
    print(f"{len(result.scores)} episodes{capped}: mean {result.mean:.2f} ± {result.std:.2f}")
    if args.json:
        print(json.dumps({"mean": result.mean, "std": result.std, "episodes": len(result.scores)}))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from a2d_edge.sources.importer import import_agent

    ckpt = import_agent(
        args.source, args.env, args.out, args.temperature, args.parity_frames, args.seed
    )
    src = ckpt["source"]
    head = f", policy softmax(Q/{args.temperature:g})" if "head" in ckpt else ""
    print(
        f"imported {src['format']} {src['algorithm']} ({src['layout']}{head}) for "
        f"{ckpt['env_id']}: {args.out}"
    )
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


Sub = Any  # argparse's _SubParsersAction


def _train_parser(sub: Sub) -> None:
    from a2d_edge.config import add_config_args
    from a2d_edge.rl.config import TrainConfig

    t = sub.add_parser("train", help="train an A2C agent (paper settings by default)")
    t.add_argument("--out", help="run folder to create")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a killed or stopped run")
    t.add_argument("--config", help="YAML/JSON file of settings (flags override it)")
    add_config_args(t, TrainConfig)
    t.set_defaults(handler=_cmd_train)


def _distill_search(cfg, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from a2d_edge.experiments.commands import describe_result
    from a2d_edge.rl.trainer import start_run
    from a2d_edge.search.pipeline import distill_search
    from a2d_edge.search.start import check_start

    start = check_start(cfg)  # teacher, memory, reused supernet: refused before anything is written
    run_dir = args.resume or start_run(cfg, args.out, kind="search")
    result = distill_search(cfg, run_dir, start)
    print(describe_result(result.summary, result.agent))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from a2d_edge.experiments.commands import check_distill, describe_result
    from a2d_edge.rl.trainer import start_run
    from a2d_edge.search.finish import distill_arch
    from a2d_edge.search.settings import DistillArchConfig

    cfg = resolve_settings(args, DistillArchConfig, "distill")
    arch = check_distill(cfg)  # refused before anything is written
    run_dir = args.resume or start_run(cfg, args.out, kind="distill")
    result = distill_arch(cfg, arch, run_dir)
    print(describe_result(result.summary, result.agent))
    return 0


def _settings_parser(sub: Sub, kind: str, handler: Any, help: str, method: bool) -> None:
    """A command of composed settings: its groups' flags (hidden ones named in the epilog), and
    the other search commands' flags, parsed only to be refused in one line."""
    from a2d_edge.config import add_config_args, flat_fields
    from a2d_edge.search.config import SearchConfig
    from a2d_edge.search.settings import COMMAND_SETTINGS, foreign

    cls = COMMAND_SETTINGS[kind]
    p = sub.add_parser(kind, help=help, description=help,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", help="run folder to create")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run")
    p.add_argument("--config", help="YAML/JSON file of settings (flags override it)")
    add_config_args(p, cls)
    if method:  # `--method` is gone; its old spellings get a one-line answer
        p.add_argument("--method", choices=("distill", "rl"), help=argparse.SUPPRESS)
    skip = [n for n in flat_fields(SearchConfig) if n in flat_fields(cls) or n not in
            foreign(kind)]  # fmt: skip
    add_config_args(p, SearchConfig, skip=skip, quiet=True)
    p.set_defaults(handler=handler)


def _distill_parser(sub: Sub) -> None:
    _settings_parser(sub, "distill", _cmd_distill, "train a given arch by the search's finish "
                     "(student-driven distillation from teacher-labelled frames, --finish-steps),"
                     " then evaluate it: the hand-made baselines", method=False)  # fmt: skip


def _search_parser(sub: Sub) -> None:
    _settings_parser(sub, "search", _cmd_search, "architecture search under a latency budget, "
                     "driven by distillation: supernet, selection, finish, eval -> agent.pt "
                     "(the paper's RL-driven DNAS is a2d search-rl)", method=True)  # fmt: skip
    _settings_parser(sub, "search-rl", _cmd_search_rl, "the paper's RL-driven DNAS (Algorithm "
                     "1): A2C + distillation through a Gumbel-softmax supernet, the arch from "
                     "alpha -> arch.json, search.json", method=True)  # fmt: skip


def _sweep_parser(sub: Sub) -> None:
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
        "--seeds",
        nargs="+",
        type=non_negative_int,
        help="these seeds instead of the file's (e.g. 0 1 2)",
    )
    w.add_argument("--dry-run", action="store_true", help="list the runs and settings only")
    w.add_argument("--shard", metavar="K/N", help="run every N-th run from K (0 <= K < N)")
    w.set_defaults(handler=_cmd_sweep)


def _report_parser(sub: Sub) -> None:
    o = sub.add_parser("report", help="paper-style tables and plots from run folders")
    o.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders or folders above them")
    o.add_argument("--out", required=True, help="folder for report.md, report.json, *.png")
    o.add_argument(
        "--time-with",
        metavar="LUT",
        help="time every agent and teacher again here with this table's settings, in one "
        "sitting (one host's latencies in the figure, not each run's own host's)",
    )
    o.add_argument("--timing-rounds", type=int, default=5, help="interleaved rounds (--time-with)")
    o.set_defaults(handler=_cmd_report)


def _export_parser(sub: Sub) -> None:
    from a2d_edge.config import add_config_args
    from a2d_edge.export.settings import ExportSettings

    x = sub.add_parser("export", help="verified ONNX fp32 / INT8 / TensorRT bundle of an agent")
    x.add_argument("checkpoint", help="agent.pt path or zoo:NAME")
    x.add_argument("--out", required=True, help="bundle folder to write")
    add_config_args(x, ExportSettings)
    x.set_defaults(handler=_cmd_export)


def _run_parser(sub: Sub) -> None:
    from a2d_edge.config import add_config_args
    from a2d_edge.runtime.loop import RunSettings
    from a2d_edge.runtime.policy import PolicySpec
    from a2d_edge.runtime.realtime import RealtimeSettings

    r = sub.add_parser("run", help="run a bundle as a fixed-rate controller (torch-free)")
    r.add_argument("bundle", help="bundle folder (a2d export)")
    for cls in (RunSettings, RealtimeSettings, PolicySpec):
        add_config_args(r, cls)
    r.add_argument(
        "--lut",
        metavar="TABLE",
        help="latency table to judge the run by: its prediction for the bundle's arch (the "
        "table beside TABLE timed at this --hz / --spin-ms / --prewarm when there is one) is "
        "printed and reported beside the measured p50 / p99",
    )
    r.add_argument(
        "--no-recalibrate",
        action="store_true",
        help="judge by --lut as it is: by default a table of this host is first rescaled to "
        "this sitting's drift (a dozen archs timed its way, seconds; in the report)",
    )
    r.add_argument("--report", help="write the run report (JSON) here")
    r.add_argument("--quiet", action="store_true", help="no live status line")
    r.set_defaults(handler=_cmd_run)


def _eval_parser(sub: Sub) -> None:
    e = sub.add_parser("eval", help="30-episode no-op-start evaluation of a checkpoint")
    e.add_argument("checkpoint", help="agent.pt path or zoo:NAME")
    e.add_argument("--episodes", type=positive_int, default=30)
    e.add_argument("--seed", type=non_negative_int, default=0)
    e.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    e.add_argument(
        "--max-frames",
        type=non_negative_int,
        default=0,
        help="end each game after this many emulator frames, its score so far counting (a "
        "quick look; 0: the agent's own cap, 108,000 frames = 30 min of play)",
    )
    e.add_argument("--json", action="store_true", help="last line: {mean, std, episodes}")
    e.set_defaults(handler=_cmd_eval)


def _import_parser(sub: Sub) -> None:
    from a2d_edge.sources import DEFAULT_FRAMES, DEFAULT_TEMPERATURE

    i = sub.add_parser(
        "import",
        help="an SB3 / rl-zoo / CleanRL Atari agent as an a2d agent.pt (parity-checked)",
        description="Supported: SB3 A2C / PPO / DQN and sb3-contrib QR-DQN CnnPolicy zips (or "
        "an rl-zoo run folder), CleanRL Atari PPO / DQN state dicts. Nothing is unpickled.",
    )
    i.add_argument("source", help="an SB3 .zip, an rl-zoo run folder or a CleanRL model file")
    i.add_argument("--env", required=True, help="the game, e.g. PongNoFrameskip-v4 or ALE/Pong-v5")
    i.add_argument("--out", required=True, help="agent.pt to write (must not exist)")
    i.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        help="a DQN / QR-DQN teacher's policy is softmax(Q / temperature) (Rusu et al. 2016)",
    )
    i.add_argument(
        "--parity-frames",
        type=int,
        default=DEFAULT_FRAMES,
        help="frames the agent plays on which its outputs must equal the source's",
    )
    i.add_argument("--seed", type=int, default=0)
    i.set_defaults(handler=_cmd_import)


def _info_parsers(sub: Sub) -> None:
    a = sub.add_parser("arch-info", help="params and FLOPs of an architecture")
    a.add_argument("arch", help="nature | resnet14|20|38|74 | path to arch.json")
    a.add_argument("--actions", type=positive_int, default=6, help="action count for the heads")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=_cmd_arch_info)
    v = sub.add_parser("envs", help="list the valid env ids")
    v.set_defaults(handler=_cmd_envs)


COMMANDS = (_train_parser, _search_parser, _distill_parser, _sweep_parser, _report_parser,
            _export_parser,
            _run_parser, _eval_parser, _import_parser, _info_parsers)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="a2d", description=__doc__)
    p.add_argument("--version", action="version", version=f"a2d-edge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_parser(), argv)
