"""CUDA paths of the streaming scorer. The `gpu` tests run through the device tool (`pytest -m gpu`);
CI has no GPU and runs only the CPU checks here."""

import numpy as np
import pytest
import torch

from robo_reward.reward.checkpoint import TaskTable
from robo_reward.reward.infer import Scorer, StreamingScorer
from robo_reward.reward.model import GRM, ModelConfig

CAMS = ("front", "side", "wrist")


def _setup(device: str) -> tuple[Scorer, list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, subtasks=("reach", "grasp", "lift"))).to(device)
    tasks = TaskTable(["t"], [("reach", "grasp", "lift")], rng.normal(size=(1, 384)).astype(np.float32),
                      [rng.integers(0, 256, (3, 3, 96, 96, 3), dtype=np.uint8)])
    frames = [{c: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for c in CAMS} for _ in range(40)]
    return Scorer(model, tasks, device), frames


def test_cuda_graph_needs_cuda():
    scorer, _ = _setup("cpu")
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
        StreamingScorer(scorer, "t", cuda_graph=True)


@pytest.mark.gpu
@pytest.mark.parametrize("bf16", [False, True])
def test_cuda_graph_step_matches_eager(bf16):
    """The replayed graph computes the same progress, perspectives, stage and uncertainty as eager
    steps, over a sequence long enough that the incremental and fused states carry across replays,
    and again after a reset (new START) and with a camera absent (eager fallback)."""
    assert torch.cuda.is_available()
    scorer, frames = _setup("cuda")
    eager, graphed = StreamingScorer(scorer, "t"), StreamingScorer(scorer, "t", cuda_graph=True)
    tol = 2e-2 if bf16 else 1e-4
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        for episode in range(2):
            eager.reset_state()
            graphed.reset_state()
            a = [eager.step(f) for f in frames[episode:]]
            b = [graphed.step(f) for f in frames[episode:]]
            for field in ("progress", "incremental", "forward", "backward", "uncertainty"):
                np.testing.assert_allclose([getattr(s, field) for s in b], [getattr(s, field) for s in a], atol=tol)
            assert np.mean([x.stage == y.stage for x, y in zip(a, b)]) >= (0.9 if bf16 else 1.0)
        assert graphed._graph is not None
        np.testing.assert_allclose(graphed.last_embedding, eager.last_embedding, atol=tol * 10)
        two = {c: frames[0][c] for c in ("front", "side")}
        assert abs(graphed.step(two).forward - eager.step(two).forward) <= tol
