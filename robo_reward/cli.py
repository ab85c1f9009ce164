"""`robo-reward <verb>`: the command-line front door. Each verb's flags come from its config
dataclass; errors in user input print one clear line and exit non-zero."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.config import add_config_args, config_from_args


@dataclass(frozen=True)
class ViewConfig:
    data: Path = field(metadata={"help": "LeRobot dataset folder"})
    out: Path = field(metadata={"help": "output video file (.mp4)"})
    episode: int = field(default=0, metadata={"help": "episode index"})
    scale: int = field(default=2, metadata={"help": "upscaling factor for the video"})


def cmd_tasks(ns: argparse.Namespace) -> int:
    from robo_reward.envs import available_tasks

    names = list(available_tasks())
    if ns.all:
        from robo_reward.envs.metaworld import metaworld_task_names

        names += [f"mw/{n}" for n in metaworld_task_names() if f"mw/{n}" not in names]
    for name in names:
        print(name)
    return 0


def cmd_collect(ns: argparse.Namespace) -> int:
    from robo_reward.data.collect import CollectConfig, collect

    cfg = config_from_args(CollectConfig, ns)
    actor = None
    if cfg.policy is not None:
        cfg.validate()
        from robo_reward.rl.deploy import collect_actor

        actor = collect_actor(cfg)
    summary = collect(cfg, actor=actor)
    print(json.dumps({k: summary[k] for k in ("frames", "outcomes", "modes", "seconds", "episodes_per_minute")}))
    print(f"wrote {ns.out}")
    return 0


def cmd_view(ns: argparse.Namespace) -> int:
    from robo_reward.data.lerobot_io import load_episode, read_info
    from robo_reward.viz.video import episode_frames, write_video

    cfg = config_from_args(ViewConfig, ns)
    info = read_info(cfg.data)
    ep = load_episode(cfg.data, cfg.episode)
    path = write_video(episode_frames(ep, info.subtasks, cfg.scale), cfg.out, info.fps)
    print(f"wrote {path} ({ep.length} frames, cameras {', '.join(ep.images)})")
    return 0


def cmd_bench_sim(ns: argparse.Namespace) -> int:
    from robo_reward.bench.sim import BenchSimConfig, bench_sim

    print(json.dumps(bench_sim(config_from_args(BenchSimConfig, ns))))
    return 0


def cmd_train_reward(ns: argparse.Namespace) -> int:
    from robo_reward.reward.train import TrainConfig, train

    summary = train(config_from_args(TrainConfig, ns))
    print(json.dumps(summary))
    return 0


def cmd_eval_reward(ns: argparse.Namespace) -> int:
    from robo_reward.reward.evaluate import EvalConfig, evaluate

    m = evaluate(config_from_args(EvalConfig, ns))
    keys = ("episodes", "voc_mean", "voc_median", "completion_accuracy", "auroc", "stage_accuracy")
    print(json.dumps({k: m[k] for k in keys}))
    for p in ("incremental", "forward", "backward", "fused"):
        print(f"{p:>12}: completion {m[p]['completion_accuracy']:.3f}  auroc {m[p]['auroc']}  voc {m[p]['voc_mean']}")
    print(f"  (the rule on the true progress labels: completion {m['true_progress_completion_accuracy']:.3f}); "
          f"outcomes: {m['outcome_source']}")
    for miss in m["misses"][:10]:
        print(f"  miss: episode {miss['episode']} ({miss['mode']}) is {miss['outcome']}, scored {miss['predicted']} "
              f"(final progress {miss['final']:.2f})")
    if len(m["misses"]) > 10:
        print(f"  ... {len(m['misses']) - 10} more misses in metrics.json")
    print(f"wrote {ns.out}/metrics.json (per episode: episodes.csv)")
    return 0


def cmd_score(ns: argparse.Namespace) -> int:
    from robo_reward.reward.evaluate import ScoreConfig, score_to_parquet

    print(f"wrote {score_to_parquet(config_from_args(ScoreConfig, ns))}")
    return 0


def cmd_rl(ns: argparse.Namespace) -> int:
    from robo_reward.rl.config import RLConfig

    cfg = config_from_args(RLConfig, ns)
    if cfg.dist.actors:  # actors and learner on Ray
        from robo_reward.rl.distributed import run_distributed as train
    else:
        from robo_reward.rl.loop import run_rl as train
    print(json.dumps(train(cfg)))
    return 0


def cmd_bench_reward(ns: argparse.Namespace) -> int:
    from robo_reward.bench.reward import LatencyConfig, streaming_latency

    print(json.dumps(streaming_latency(config_from_args(LatencyConfig, ns))))
    return 0


def cmd_eval_policy(ns: argparse.Namespace) -> int:
    from robo_reward.rl.evaluate import PolicyEvalConfig, evaluate_policy

    result = evaluate_policy(config_from_args(PolicyEvalConfig, ns))
    print(json.dumps({"success_rate": result["success_rate"], "episodes": result["episodes"], "out": str(ns.out)}))
    return 0


def cmd_sweep(ns: argparse.Namespace) -> int:
    from robo_reward.rl.sweep import SweepConfig, sweep

    result = sweep(config_from_args(SweepConfig, ns))
    speed = result["speed"]
    for mode, m in result["modes"].items():
        print(f"{mode:<9} success (last {result['final_window']}) median {m['success_rate_final_median']}, "
              f"eval median {m['eval_success_rate_median']}, episodes to 80% of final {m['episodes_to_80pct_of_final_median']}, "
              f"to 80% of {speed['reference']}'s final {speed['episodes_to_level_median'][mode]}")
    print(f"wrote {Path(ns.out) / 'sweep.json'} and sweep.png")
    return 0


def cmd_bench_peers(ns: argparse.Namespace) -> int:
    from robo_reward.bench.peers import PeersConfig, bench_peers

    result = bench_peers(config_from_args(PeersConfig, ns))
    for e in result["entries"]:
        step = e.get("step")
        line = f"{e['name']:<52} " + (f"{step['ms_median']:>10.2f} ms median  {step['ms_p90']:>10.2f} ms p90" if step else e["skipped"])
        print(line + (f"  (ours {e['ours_faster_x']}x faster)" if "ours_faster_x" in e else ""))
    if ns.out is not None:
        print(f"wrote {Path(ns.out).with_suffix('.json')} and .png")
    return 0


def cmd_bc(ns: argparse.Namespace) -> int:
    from robo_reward.bc.train import BCConfig, train_bc

    print(json.dumps(train_bc(config_from_args(BCConfig, ns))))
    return 0


def cmd_import_hdf5(ns: argparse.Namespace) -> int:
    from robo_reward.data.importer import ImportConfig, import_hdf5

    summary = import_hdf5(config_from_args(ImportConfig, ns))
    print(json.dumps({k: summary[k] for k in ("episodes", "frames", "fps", "subtasks", "annotation_source", "frames_per_s")}))
    print(f"wrote {ns.out}")
    return 0


def cmd_import_rosbag(ns: argparse.Namespace) -> int:
    from robo_reward.data.rosbag_io import RosbagImportConfig, import_rosbag

    summary = import_rosbag(config_from_args(RosbagImportConfig, ns))
    print(json.dumps({k: summary[k] for k in ("episodes", "frames", "fps", "action_source", "annotation_source")}))
    print(f"wrote {ns.out}")
    return 0


def cmd_export_hdf5(ns: argparse.Namespace) -> int:
    from robo_reward.data.importer import ExportConfig, export_hdf5

    print(json.dumps(export_hdf5(config_from_args(ExportConfig, ns))))
    return 0


def cmd_inspect(ns: argparse.Namespace) -> int:
    from robo_reward.data.inspection import InspectConfig, format_summary, inspect_dataset

    summary = inspect_dataset(config_from_args(InspectConfig, ns))
    print(format_summary(summary))
    print(f"wrote {summary['out']}/inspect.json" + (f" and {summary['contact_sheet']}" if "contact_sheet" in summary else ""))
    return 0


def cmd_adapt(ns: argparse.Namespace) -> int:
    from robo_reward.reward.adapt import AdaptConfig, adapt, format_report

    report = adapt(config_from_args(AdaptConfig, ns))
    print(format_report(report))
    print(f"wrote {ns.out}/last and {ns.out}/adapt_report.json")
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from robo_reward.demo import DemoConfig, run_demo

    run_demo(config_from_args(DemoConfig, ns))
    return 0


ConfigSpec = str | None  # "module:Class" of the verb's config dataclass, imported only when that verb runs


def _verbs() -> list[tuple[str, str, Callable[[argparse.Namespace], int], ConfigSpec]]:
    """Every verb with its config named, not imported: `robo-reward --help` and one verb's run load
    only what they use (an RL run needs no video codec, a benchmark no simulator)."""
    return [
        ("tasks", "list the available tasks", cmd_tasks, None),
        ("collect", "record scripted episodes into a LeRobotDataset with subtask annotations", cmd_collect,
         "robo_reward.data.collect:CollectConfig"),
        ("view", "render an episode (all cameras, subtask, frame index) as a video", cmd_view, "robo_reward.cli:ViewConfig"),
        ("train-reward", "train the general reward model (GRM) on annotated datasets", cmd_train_reward,
         "robo_reward.reward.train:TrainConfig"),
        ("eval-reward", "evaluate a GRM: VOC, completion accuracy, AUROC, stage accuracy, plots, videos", cmd_eval_reward,
         "robo_reward.reward.evaluate:EvalConfig"),
        ("adapt", "adapt a GRM to a new task from one expert demonstration (before/after report with --eval)", cmd_adapt,
         "robo_reward.reward.adapt:AdaptConfig"),
        ("score", "per-frame progress parquet (LeRobot RA-BC columns); only for a task the model was trained or adapted "
                  "on: another task's text is refused (a zero-shot score would read as progress it never learned; "
                  "`robo-reward adapt` it from one demonstration first)", cmd_score,
         "robo_reward.reward.evaluate:ScoreConfig"),
        ("rl", "online RL (SAC, RLPD-style) with sparse, dense or GRM-shaped rewards", cmd_rl,
         "robo_reward.rl.config:RLConfig"),
        ("eval-policy", "success rate (and videos) of a trained RL policy on unseen simulator seeds", cmd_eval_policy,
         "robo_reward.rl.evaluate:PolicyEvalConfig"),
        ("sweep", "several reward modes x seeds of `rl` in parallel, one success-vs-episodes plot (median, spread)", cmd_sweep,
         "robo_reward.rl.sweep:SweepConfig"),
        ("bench-sim", "measure control steps/s and collect episodes/min", cmd_bench_sim,
         "robo_reward.bench.sim:BenchSimConfig"),
        ("bc", "behaviour cloning with action chunks, uniform or RA-BC weighted, evaluated in sim", cmd_bc,
         "robo_reward.bc.train:BCConfig"),
        ("bench-reward", "one JSON line: streaming fused-step latency (median, p90) at batch 1", cmd_bench_reward,
         "robo_reward.bench.reward:LatencyConfig"),
        ("import-hdf5", "convert robomimic or ALOHA HDF5 episodes into an annotated LeRobotDataset", cmd_import_hdf5,
         "robo_reward.data.importer:ImportConfig"),
        ("export-hdf5", "write a LeRobotDataset (with annotations) as robomimic-layout HDF5", cmd_export_hdf5,
         "robo_reward.data.importer:ExportConfig"),
        ("import-rosbag", "convert rosbag2 recordings (sqlite3/MCAP) of a robot's camera and joint topics into a LeRobotDataset",
         cmd_import_rosbag, "robo_reward.data.rosbag_io:RosbagImportConfig"),
        ("inspect", "summarise a dataset (episodes, cameras, tasks, subtask coverage, outcomes) with a contact sheet",
         cmd_inspect, "robo_reward.data.inspection:InspectConfig"),
        ("bench-peers", "time our GRM against LeRobot's SARM and a GRM-3B (Qwen2.5-VL-3B) architecture, same device, one run",
         cmd_bench_peers, "robo_reward.bench.peers:PeersConfig"),
        ("demo", "the embedded default run (what `make demo` does)", cmd_demo, "robo_reward.demo:DemoConfig"),
    ]


def _config_class(spec: str) -> type:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with flags for the verb named in `argv` (all verbs are listed either way)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="robo-reward", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    for name, help_text, fn, spec in _verbs():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "tasks":
            p.add_argument("--all", action="store_true", help="also every other MetaWorld v3 task (mw/<name>)")
        if spec is not None and name == chosen:
            repeatable = {"train-reward": ("data",), "import-rosbag": ("bag",)}.get(name, ())
            add_config_args(p, _config_class(spec), repeatable=repeatable, aliases={"input": "--in"})
        p.set_defaults(fn=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser(argv).parse_args(argv)
    try:
        return ns.fn(ns)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, ImportError) as exc:
        print(f"robo-reward {ns.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
