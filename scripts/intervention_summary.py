"""Per seed, `rl` runs without and with a change (interventions, kept successes) side by side, or one set of runs
alone (no `--without`): the clones alone,
evaluation after training (the policy alone: no interventions in evaluation), training success (helped, with
interventions), episodes until the moving training success first reaches 90%, the intervention rate at the start and
the end, and the transitions kept as demonstrations; medians over seeds, JSON + the moving success curves.

    .venv/bin/python scripts/intervention_summary.py --without runs/arm/pp_s{0,1,2,3,4} --with runs/arm/pp_int_s{0,1,2,3,4} \
        --out docs/results/interventions_pick_place.json
    .venv/bin/python scripts/intervention_summary.py --without runs/img/base_s{0,1,2,3,4} --with runs/img/si_s{0,1,2,3,4} \
        --with-name with_kept_successes --out docs/results/self_imitation_pick_place.json
    .venv/bin/python scripts/intervention_summary.py --with runs/ds/si_s{0,1,2,3,4} --with-name default_recipe \
        --out docs/results/rl_drawer_stow.json"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from robo_reward.config import git_revision, write_json
from robo_reward.rl.summary import FINAL_WINDOW, episodes_to, load_metrics, moving_success
from robo_reward.viz.rl import plot_sweep


def per_run(run: Path) -> dict:
    path = run / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: is {run} a finished `robo-reward rl` run?")
    summary = json.loads(path.read_text())
    if "clones_eval_success_rate" not in summary or "eval_success_rate" not in summary:
        raise ValueError(f"{path}: no clones_eval_success_rate / eval_success_rate: run it with --eval-clones and --eval-episodes > 0")
    rows = load_metrics(run)
    success = np.array([r["success"] for r in rows], float)
    rate = np.array([r.get("intervention_rate", 0.0) for r in rows])
    return {"run": str(run), "clones_eval": summary.get("clones_eval_success_rate"), "eval": summary.get("eval_success_rate"),
            "eval_minus_clones": summary["eval_success_rate"] - summary["clones_eval_success_rate"],
            "training_success": float(success.mean()), "training_success_last20": float(success[-FINAL_WINDOW:].mean()),
            "episodes_to_90pct_training": episodes_to(success, 0.9),
            "intervention_rate_first20": float(rate[:FINAL_WINDOW].mean()), "intervention_rate_last20": float(rate[-FINAL_WINDOW:].mean()),
            "intervention_steps": int(sum(r.get("intervention_steps", 0) for r in rows)),
            "success_demo_rows": int(sum(r.get("success_demo_rows", 0) for r in rows))}


def run_config(run: Path) -> dict:
    """The config a run ran with (its config.json)."""
    return json.loads((run / "config.json").read_text())["config"]


def median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.median(values)) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--without", type=Path, nargs="*", default=[], help="the runs without the change (none: --with alone)")
    ap.add_argument("--with", dest="with_", type=Path, nargs="+", required=True)
    ap.add_argument("--with-name", default="with_interventions", help="the --with set's name in the JSON and the plot")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    runs = {"without": args.without, args.with_name: args.with_} if args.without else {args.with_name: args.with_}
    sets = {name: [per_run(r) for r in paths] for name, paths in runs.items()}
    keys = [k for k in sets[args.with_name][0] if k != "run"]
    write_json(args.out, {"runs": sets, "medians": {name: {k: median(rows, k) for k in keys} for name, rows in sets.items()},
                          "git_revision": git_revision()})
    curves = {name.replace("_", " "): np.stack([moving_success(np.array([r["success"] for r in load_metrics(run)], float))
                                                for run in paths]) for name, paths in runs.items()}
    config = run_config(args.with_[0])
    plot_sweep(args.out.with_suffix(".png"), curves, f"{config['task']}, {config['obs']} input")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
