"""What a finished (or stopped) `rl` run did: success windows, episodes to a success level, reward
hacking (the model says success, the simulator does not), where failed episodes park, per-step costs.
summary.json beside success.png (robo_reward.viz.rl)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from robo_reward.config import write_json
from robo_reward.reward.judge import verdict_rates
from robo_reward.shaping import DEFAULT_DELTA

FINAL_WINDOW = 20


def load_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def summarize_run(out: Path) -> dict:
    rows = load_metrics(out)
    success = np.array([r["success"] for r in rows], dtype=float)
    returns = np.array([r["return"] for r in rows], dtype=float)
    fooled = np.array([r.get("model_success", False) and not r["success"] for r in rows], dtype=float)
    # the stricter reading: the episode *ends* in a state the model calls done and the simulator does not
    # (a touch of Φ >= 1 - δ on the way pays nothing under PBRS, which telescopes; ending there is what a
    # policy that learned to fool the model would do)
    fooled_at_end = np.array([not r["success"] and r["final_progress"] >= 1.0 - DEFAULT_DELTA for r in rows], dtype=float)
    # the semantic trap's signature: failed episodes that end where the model reads progress (parked, not pressing on)
    failed_phi = np.array([r["final_progress"] for r in rows if not r["success"]], dtype=float)
    failed_phi_final = np.array([r["final_progress"] for r in rows[-FINAL_WINDOW:] if not r["success"]], dtype=float)
    final = success[-FINAL_WINDOW:]
    final_rate = float(final.mean()) if len(final) else 0.0
    summary = {"episodes": len(rows), "success_rate_final": final_rate,
               "success_rate_overall": float(success.mean()) if len(success) else 0.0,
               "final_window": FINAL_WINDOW,
               "episodes_to_80pct_success": episodes_to(success, 0.8),
               "episodes_to_80pct_of_final": episodes_to(success, 0.8 * final_rate) if final_rate > 0 else None,
               "reward_hacking_rate": float(fooled.mean()) if len(fooled) else 0.0,
               "reward_hacking_rate_at_end": float(fooled_at_end.mean()) if len(fooled_at_end) else 0.0,
               "failed_final_progress": float(failed_phi.mean()) if len(failed_phi) else None,
               "failed_final_progress_final": float(failed_phi_final.mean()) if len(failed_phi_final) else None,
               "return_success_correlation": _corr(returns, success),
               "mean_step_ms": {k: 1e3 * float(np.sum([r[k] for r in rows]) / max(1, sum(r["length"] for r in rows)))
                                for k in ("policy_s", "env_s", "reward_s", "update_s")}}
    interventions = np.array([r.get("intervention_rate", 0.0) for r in rows], dtype=float)
    if interventions.any():  # who acted: the rate at the start and the end says whether the policy took over
        summary["intervention_rate_first"] = float(interventions[:FINAL_WINDOW].mean())
        summary["intervention_rate_final"] = float(interventions[-FINAL_WINDOW:].mean())
        summary["intervention_steps"] = int(sum(r.get("intervention_steps", 0) for r in rows))
        summary["hold_steps"] = int(sum(r.get("hold_steps", 0) for r in rows))
    if rows and "judged_success" in rows[0]:
        summary["judge"] = judge_rates(rows)
    if (out / "eval.json").exists():
        evaluation = json.loads((out / "eval.json").read_text())
        summary["eval_success_rate"] = evaluation["success_rate"]
        summary["eval_episodes"] = evaluation["episodes"]
        summary["eval_value_overestimate"] = evaluation["value_overestimate"]
    if (out / "eval_clones.json").exists():  # the same layouts before any online episode
        summary["clones_eval_success_rate"] = json.loads((out / "eval_clones.json").read_text())["success_rate"]
    write_json(out / "summary.json", summary)
    from robo_reward.viz.rl import plot_success

    plot_success(out / "success.png", moving_success(success), moving_success(fooled), returns, success, FINAL_WINDOW,
                 moving_success(interventions) if interventions.any() else None)
    return summary


def judge_rates(rows: list[dict]) -> dict:
    """The model's verdicts (--success-from model) against the simulator's success: an episode's last state is the
    verdict's (the verdict ended it) or the time limit's."""
    return verdict_rates([r["judged_success"] for r in rows], [r["success"] for r in rows], [r["env_success_seen"] for r in rows])


def moving_success(success: np.ndarray, window: int = FINAL_WINDOW) -> np.ndarray:
    """Success rate over the last `window` episodes (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(success)])
    idx = np.arange(1, len(success) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def episodes_to(success: np.ndarray, level: float, window: int = FINAL_WINDOW) -> int | None:
    """Episodes until the moving success rate (full window) first reaches `level`; None if never."""
    rate = moving_success(success, window)
    hit = [i + 1 for i in range(window - 1, len(rate)) if rate[i] >= level]
    return hit[0] if hit else None


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])
