"""What StreamingScorer.last_embedding holds for a policy: the fused state embedding, or every
camera's features before fusion (`rl --grm-features views`)."""

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
