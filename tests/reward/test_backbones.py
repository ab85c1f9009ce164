"""Every backbone builds offline (random init or from a config) and encodes multi-view frames."""

import json

import pytest
import torch

from robo_reward.reward.model import GRM, ModelConfig

TINY_VIT = "hf-config:" + json.dumps({"model_type": "vit", "image_size": 32, "patch_size": 8, "hidden_size": 32,
                                      "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64})


@pytest.mark.parametrize("backbone", ["conv", "resnet18", TINY_VIT])
def test_backbone_encodes_views(backbone):
    model = GRM(ModelConfig(cameras=("front", "wrist"), backbone=backbone, image_size=32, dim=16, hidden=32, subtasks=("a", "b")))
    frames = torch.randint(0, 256, (3, 2, 48, 48, 3), dtype=torch.uint8)  # resized to 32 inside
    z = model.encode(frames, torch.tensor([[True, False], [True, True], [False, True]]))
    assert z.shape == (3, 16) and torch.isfinite(z).all()
    out = model.hop(z[:1], z[1:2], z[:1], z[2:], torch.zeros(1, 384))
    assert out.logits.shape == (1, 25) and -1.0 <= float(out.expected) <= 1.0 and float(out.std) >= 0.0


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        GRM(ModelConfig(backbone="vgg", subtasks=("a",)))
