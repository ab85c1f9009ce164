"""What StreamingScorer.last_embedding holds for a policy: the fused state embedding, every camera's features
before fusion (`rl --grm-features views`), or the environment state the model's auxiliary head estimates
(`estimate`, `views+estimate`)."""

import numpy as np
import pytest
import torch

from robo_reward.reward.checkpoint import TaskTable
from robo_reward.reward.infer import Scorer, StreamingScorer
from robo_reward.reward.model import GRM, ModelConfig

CAMS = ("front", "side", "wrist")


def test_views_are_the_per_camera_features_the_fused_embedding_is_made_of():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, subtasks=("reach", "grasp"), image_size=32)).eval()
    tasks = TaskTable(["t"], [("reach", "grasp")], rng.normal(size=(1, 384)).astype(np.float32),
                      [rng.integers(0, 256, (2, 3, 32, 32, 3), dtype=np.uint8)])
    scorer = Scorer(model, tasks)
    frames = [{c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in CAMS} for _ in range(3)]
    fused, views = StreamingScorer(scorer, "t"), StreamingScorer(scorer, "t", features="views")
    d = model.cfg.dim
    assert fused.last_embedding.shape == (d,) and views.last_embedding.shape == (3 * d,)
    for f in frames:  # the choice changes what the policy reads, never the progress
        a, b = fused.step(f), views.step(f)
        assert a == b
    with torch.no_grad():
        x = torch.from_numpy(np.stack([frames[-1][c] for c in CAMS])[None])
        np.testing.assert_allclose(fused.last_embedding, model.encode(x)[0].numpy(), atol=1e-5)
        per_view = torch.from_numpy(views.last_embedding).view(1, 3, d)
        np.testing.assert_allclose(model.encoder.fuse_views(per_view)[0].numpy(), fused.last_embedding, atol=1e-5)
    views.step({c: frames[0][c] for c in ("front", "wrist")})  # an absent camera reads as zeros
    assert not views.last_embedding[d : 2 * d].any() and views.last_embedding[:d].any()
    with pytest.raises(ValueError, match="features must be one of"):
        StreamingScorer(scorer, "t", features="keypoints")


def test_estimate_is_the_environment_state_head_in_recorded_units_and_needs_the_head():
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    cfg = ModelConfig(cameras=CAMS, subtasks=("reach", "grasp"), image_size=32)
    tasks = TaskTable(["t"], [("reach", "grasp")], rng.normal(size=(1, 384)).astype(np.float32),
                      [rng.integers(0, 256, (2, 3, 32, 32, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="no such head.*--env-state-weight"):
        StreamingScorer(Scorer(GRM(cfg).eval(), tasks), "t", features="estimate")
    model = GRM(ModelConfig(**{**cfg.__dict__, "env_state_dim": 7})).eval()
    model.env_state_mean.copy_(torch.linspace(0.1, 0.7, 7))
    model.env_state_std.copy_(torch.full((7,), 0.05))
    scorer = Scorer(model, tasks)
    views, estimate, both = (StreamingScorer(scorer, "t", features=f) for f in ("views", "estimate", "views+estimate"))
    assert estimate.last_embedding.shape == (7,) and both.last_embedding.shape == (3 * cfg.dim + 7,)
    frame = {c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in CAMS}
    assert views.step(frame) == estimate.step(frame) == both.step(frame)  # the choice never changes the progress
    with torch.no_grad():
        per_view = torch.from_numpy(views.last_embedding).view(1, 3, cfg.dim)
        standardised = model.env_state_head(per_view.flatten(1))[0].numpy()
    np.testing.assert_allclose(estimate.last_embedding, standardised * 0.05 + np.linspace(0.1, 0.7, 7), atol=1e-5)
    np.testing.assert_allclose(both.last_embedding, np.concatenate([views.last_embedding, estimate.last_embedding]), atol=1e-6)
