"""Regenerate the golden GRM checkpoint fixture (tests/fixtures/golden_grm) and its expected outputs.

Run only when a checkpoint-format or inference change is intended, bump FORMAT_VERSION if old
checkpoints can no longer be read, and say so in the commit: the golden test exists to make such
changes deliberate (LeRobot once broke official checkpoints silently)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.reward.checkpoint import TaskTable, load_checkpoint, save_checkpoint  # noqa: E402
from robo_reward.reward.infer import Scorer  # noqa: E402
from robo_reward.reward.model import GRM, ModelConfig  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "golden_grm"
TASK = "golden task"


def golden_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    return {c: rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8) for c in ("front", "wrist")}


def main() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(cameras=("front", "wrist"), image_size=32, dim=16, hidden=32, hop_bins=25, subtasks=("a", "b", "c"))
    model = GRM(cfg)
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(1, 384)).astype(np.float32)
    goals = [rng.integers(0, 256, (2, 2, 32, 32, 3), dtype=np.uint8)]
    tasks = TaskTable([TASK], [("a", "b")], emb, goals)
    save_checkpoint(OUT / "checkpoint", model, tasks, {"step": 0})
    model, tasks, _ = load_checkpoint(OUT / "checkpoint")
    pr = Scorer(model, tasks).score(golden_inputs(), TASK)
    expected = {k: np.asarray(getattr(pr, k)).tolist() for k in ("value", "incremental", "forward", "backward", "stage", "uncertainty")}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
