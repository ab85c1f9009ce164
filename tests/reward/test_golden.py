"""Golden checkpoint: a committed tiny GRM must keep loading and scoring to the same numbers.
If this fails after an intended change, regenerate with scripts/make_golden_grm.py (and bump the
format version when old checkpoints can no longer load)."""

import json
import sys
from pathlib import Path

import numpy as np

from robo_reward.reward.checkpoint import load_checkpoint
from robo_reward.reward.infer import Scorer

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden_grm"
sys.path.insert(0, str(GOLDEN.parents[2] / "scripts"))
from make_golden_grm import TASK, golden_inputs  # noqa: E402


def test_golden_checkpoint_scores_unchanged():
    model, tasks, meta = load_checkpoint(GOLDEN / "checkpoint")
    assert meta["format_version"] == 1 and tasks.texts == [TASK]
    pr = Scorer(model, tasks).score(golden_inputs(), TASK)
    expected = json.loads((GOLDEN / "expected.json").read_text())
    for key, want in expected.items():
        np.testing.assert_allclose(np.asarray(getattr(pr, key), dtype=float), np.asarray(want, dtype=float),
                                   atol=1e-5, err_msg=key)
