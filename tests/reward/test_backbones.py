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


def test_peer_benchmark_smoke(tmp_path, capsys):
    """Tiny configs of every peer run end to end and write JSON + a chart (timings here mean nothing)."""
    import json

    from robo_reward.cli import main

    out = tmp_path / "peers"
    assert main(["bench-peers", "--tiny", "--steps", "2", "--warmup", "1", "--batch", "2", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    names = [e["name"] for e in result["entries"]]
    assert names[0].startswith("robo_reward") and "SARM" in names[1] and "Qwen2.5-VL" in names[2]
    assert all(e["step"]["ms_median"] > 0 and e["parameters"] > 0 for e in result["entries"])
    assert result["weights"].startswith("random") and out.with_suffix(".png").stat().st_size > 0
    assert "faster" in capsys.readouterr().out


@pytest.mark.slow
def test_compiled_encoder_scores_like_eager():
    """`bench-reward --compile` times a torch.compile'd encoder: it must compute the same features."""
    import torch

    from robo_reward.bench.reward import LatencyConfig, streaming_latency
    from robo_reward.reward.model import GRM, ModelConfig

    model = GRM(ModelConfig(subtasks=("a", "b"))).eval()
    x = torch.randint(0, 256, (2, 3, 96, 96, 3), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model.encode)(x), model.encode(x), atol=1e-4, rtol=1e-4)
    result = streaming_latency(LatencyConfig(steps=5, compile=True))
    assert result["compiled"] and result["fused_step_ms_median"] > 0
