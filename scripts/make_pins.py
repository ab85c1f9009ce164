"""Behaviour pins: a fixed-seed `rl` run, a `bc` run and a `collect` run, summarised so that a refactor
can show it changed nothing (tests/test_pins.py; expected values in tests/fixtures/pins.json).

Every array is kept as its SHA-256 (bit identity, what `--check` reports) and as sums (what the test
compares, to 1e-6: a CPU with other float kernels may differ in the last bits without anything being
wrong). The pins name the CPU capability torch ran them with: on another one the `rl` run's floats are not
compared (two episodes of SAC updates grow last-bit differences to 1e-2: AVX512 against the AVX2-era pins),
only its structure. Regenerate only for an intended behaviour change or a new CI CPU, and say so in the commit:
    .venv/bin/python scripts/make_pins.py            # rewrite tests/fixtures/pins.json
    .venv/bin/python scripts/make_pins.py --check    # compare bit for bit, print what differs"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PINS = ROOT / "tests" / "fixtures" / "pins.json"
TIMERS = ("policy_s", "env_s", "reward_s", "update_s")


def summarise(a) -> dict:
    """An array as its bytes' hash, shape and two sums."""
    a = np.ascontiguousarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a))
    f = a.astype(np.float64)
    return {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "shape": list(a.shape),
            "sum": float(f.sum()), "abs_sum": float(np.abs(f).sum())}


def summarise_tree(tree, prefix: str = "") -> dict:
    """Every tensor/array in a nested dict (a state dict), keyed by its path."""
    out = {}
    if isinstance(tree, dict):
        for k in sorted(tree, key=str):
            out.update(summarise_tree(tree[k], f"{prefix}{k}/"))
    elif isinstance(tree, (torch.Tensor, np.ndarray)):
        out[prefix.rstrip("/")] = summarise(tree)
    return out


def random_grm(out: Path, task: str) -> Path:
    """An untrained GRM that knows `task` (seeded: the same weights on every call), so the pinned run
    needs no training data. Its Φ is meaningless but deterministic, which is all a pin needs."""
    from robo_reward.envs import SimConfig, make_env
    from robo_reward.reward.checkpoint import TaskTable, save_checkpoint
    from robo_reward.reward.model import GRM, ModelConfig

    env = make_env(task, SimConfig(image_size=32, cameras=("front",)))
    spec = env.spec
    env.close()
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=("front", "wrist"), image_size=32, dim=16, hidden=32, hop_bins=25, subtasks=spec.subtasks))
    rng = np.random.default_rng(7)
    tasks = TaskTable([spec.task_text], [spec.subtasks], rng.normal(size=(1, 384)).astype(np.float32),
                      [rng.integers(0, 256, (2, 2, 32, 32, 3), dtype=np.uint8)])
    save_checkpoint(out, model, tasks, {"step": 0})
    return out


def rl_pin(tmp: Path) -> dict:
    """pick-place, PBRS on a GRM, per-view features, two clones + residual, critic pre-training, value
    bounds, two online episodes, one evaluation episode: most of the loop's paths in one short run."""
    from robo_reward.rl.config import PRE_REDESIGN, rl_config
    from robo_reward.rl.loop import run_rl

    grm = random_grm(tmp / "grm", "pick-place")
    out = tmp / "rl"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=2, reward=f"grm:{grm}", shaping="pbrs", obs="state+grm",
                    grm_features="views", demo_episodes=1, bc_init_steps=20, bc_ensemble=2, residual=0.05,
                    critic_pretrain_steps=5, value_bounds=True, warmup_steps=30, batch_size=16, utd=1,
                    checkpoint_every=1, eval_episodes=1, seed=3, device="cpu"), progress=False)
    return run_pin(out)


def run_pin(out: Path) -> dict:
    rows = [{k: v for k, v in json.loads(line).items() if k not in TIMERS}
            for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    state = torch.load(out / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    pin = {"metrics": rows, "pretrain": json.loads((out / "pretrain.json").read_text()),
           "eval": json.loads((out / "eval.json").read_text())["rows"],
           "learner": summarise_tree(state["learner"])}
    for buffer in ("online", "demos"):
        with np.load(out / "checkpoint" / f"{buffer}.npz") as d:
            pin[buffer] = {k: summarise(d[k]) for k in sorted(d.files)}
    return pin


def collect_pin(tmp: Path) -> tuple[dict, Path]:
    """Two mixed pick-place episodes through lerobot's writer: frames, states, actions, object state,
    annotations and outcomes as read back."""
    from robo_reward.data.collect import CollectConfig, collect
    from robo_reward.data.lerobot_io import load_episode, read_info

    out = tmp / "data"
    collect(CollectConfig(task="pick-place", out=out, episodes=3, quality="mixed", image_size=32, seed=100), progress=False)
    pin = {}
    for a in read_info(out).episodes:
        ep = load_episode(out, a.episode_index)
        pin[str(a.episode_index)] = {
            "outcome": ep.outcome, "mode": ep.mode, "seed": ep.seed, "length": ep.length,
            "subtasks": [[s.name, s.start, s.end] for s in ep.subtasks],
            "states": summarise(ep.states), "actions": summarise(ep.actions), "env_state": summarise(ep.env_state),
            # decoded video: the codec's output, compared by its mean (bit identity is the sha)
            "images": {c: summarise(v) for c, v in sorted(ep.images.items())}}
    return pin, out


def bc_pin(tmp: Path, data: Path) -> dict:
    """BC of two chunk policies on the recorded object state, evaluated on one episode."""
    from robo_reward.bc.train import BCConfig, train_bc

    out = tmp / "bc"
    summary = train_bc(BCConfig(data=data, out=out, obs="privileged", steps=20, batch_size=16, ensemble=2,
                                eval_episodes=1, seed=1), progress=False)
    keep = ("frames", "mean_weight", "zero_weight_share", "loss_share_by_outcome", "final_loss", "success_rate")
    policy = torch.load(out / "policy.pt", map_location="cpu", weights_only=False)
    return {"summary": {k: summary[k] for k in keep}, "policy": summarise_tree(policy["policy"])}


def make_pins() -> dict:
    torch.set_num_threads(1)  # thread count changes reduction order: pins are single-threaded
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        collected, data = collect_pin(tmp)
        return {"machine": machine(), "collect": collected, "bc": bc_pin(tmp, data), "rl": rl_pin(tmp)}


def machine() -> dict:
    """What decides the float kernels torch runs: the pins hold for this CPU capability bit for bit."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}


def differences(want, got, path: str = "", exact: bool = True, rtol: float | None = 1e-6) -> list[str]:
    """Where two pins differ: every key bit for bit (`exact`), or floats to `rtol` (None: not at all, only
    keys, shapes, counts and flags) and the rest exactly."""
    if isinstance(want, dict) and isinstance(got, dict):
        if not exact and "sha256" in want:
            want, got = {k: v for k, v in want.items() if k != "sha256"}, {k: v for k, v in got.items() if k != "sha256"}
        out = [f"{path}: keys {sorted(set(want) ^ set(got))}"] if set(want) != set(got) else []
        return out + [d for k in sorted(set(want) & set(got)) for d in differences(want[k], got[k], f"{path}/{k}", exact, rtol)]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in differences(w, g, f"{path}[{i}]", exact, rtol)]
    if not exact and isinstance(want, float) and isinstance(got, float):
        return [] if rtol is None or np.isclose(want, got, rtol=rtol, atol=rtol) else [f"{path}: {want} != {got}"]
    return [] if want == got else [f"{path}: {want} != {got}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed pins bit for bit")
    args = parser.parse_args()
    pins = json.loads(json.dumps(make_pins()))  # as stored: tuples become lists
    if args.check:
        diff = differences(json.loads(PINS.read_text()), pins)
        print("\n".join(diff[:40]) if diff else "bit-identical")
        sys.exit(1 if diff else 0)
    PINS.write_text(json.dumps(pins, indent=1) + "\n")
    print(f"wrote {PINS}")


if __name__ == "__main__":
    main()
