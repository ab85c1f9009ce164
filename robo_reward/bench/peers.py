"""Side-by-side timing of the reward models a user would pick instead, in one process, same device:
our streaming GRM, LeRobot's SARM (its own SARMRewardModel + a CLIP ViT-B/32 built from config) and a
Qwen2.5-VL-3B architecture queried like Robo-Dopamine's GRM-3B (8 images of 280 px + ~150 text tokens,
12 generated tokens, three queries per fused step). All weights are random: timing only.

Per control step = what a controller waits for when one new observation arrives (batch 1), with
everything cacheable cached (our START/GOAL features, SARM's previous frame embeddings and text)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from robo_reward.config import run_record, write_json
from robo_reward.bench.reward import CAMS, LatencyConfig, streaming_latency, sync
from robo_reward.reward.model import GRM, ModelConfig, count_parameters

QWEN_3B = dict(
    text_config=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                     num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
                     rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}),
    vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                       patch_size=14, spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[7, 15, 23, 31],
                       window_size=112),
    vocab_size=151936, image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
    vision_end_token_id=151653,
)
QWEN_TINY = dict(
    text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     vocab_size=1000, max_position_embeddings=4096, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
    vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
                       spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[1], window_size=112),
    vocab_size=1000, image_token_id=900, video_token_id=901, vision_start_token_id=902, vision_end_token_id=903,
    bos_token_id=1, eos_token_id=2,
)


@dataclass(frozen=True)
class PeersConfig:
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})
    steps: int = field(default=30, metadata={"help": "timed repetitions per entry (after warm-up)"})
    warmup: int = field(default=3, metadata={"help": "untimed repetitions first"})
    batch: int = field(default=64, metadata={"help": "throughput batch"})
    bf16: bool = field(default=False, metadata={"help": "bf16 weights/autocast for the peers (ours: autocast)"})
    compile: bool = field(default=False, metadata={"help": "also time our step with a torch.compile'd encoder"})
    cuda_graph: bool = field(default=False, metadata={"help": "our step replayed as one CUDA graph (CUDA only; eager kept as a part)"})
    tiny: bool = field(default=False, metadata={"help": "tiny configs (a smoke test, not a measurement)"})
    qwen_on_cpu: bool = field(default=False, metadata={"help": "also time the 3B model on a CPU (minutes per step)"})
    out: Path | None = field(default=None, metadata={"help": "write <out>.json and <out>.png"})


def time_it(fn: Callable[[], object], steps: int, warmup: int, device: torch.device) -> dict:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"ms_median": round(float(np.median(times)), 3), "ms_p90": round(float(np.percentile(times, 90)), 3)}


def _peak(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _step_times(latency: dict) -> dict:
    return {"ms_median": round(latency["fused_step_ms_median"], 3), "ms_p90": round(latency["fused_step_ms_p90"], 3)}


def bench_ours(cfg: PeersConfig, device: torch.device) -> dict:
    _reset_peak(device)
    latency = LatencyConfig(device=cfg.device, steps=max(cfg.steps * 4, 40), bf16=cfg.bf16)
    step = streaming_latency(replace(latency, cuda_graph=cfg.cuda_graph))
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, subtasks=("a", "b"))).to(device).eval()
    one = torch.randint(0, 256, (1, 3, 96, 96, 3), dtype=torch.uint8, device=device)
    many = torch.randint(0, 256, (cfg.batch, 3, 96, 96, 3), dtype=torch.uint8, device=device)
    z1, zb = torch.randn(1, model.cfg.dim, device=device), torch.randn(cfg.batch, model.cfg.dim, device=device)
    t1, tb = torch.randn(1, 384, device=device), torch.randn(cfg.batch, 384, device=device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        encode = time_it(lambda: model.encode(one), cfg.steps, cfg.warmup, device)
        hop = time_it(lambda: model.hop(z1, z1, z1, z1, t1), cfg.steps, cfg.warmup, device)
        batch = time_it(lambda: model.hop(model.encode(many), zb, zb, zb, tb), cfg.steps, cfg.warmup, device)
    parts = {"encode 3 views": encode, "one hop query (one perspective)": hop}
    if cfg.cuda_graph:
        parts["fused step, eager"] = _step_times(streaming_latency(latency))
    if cfg.compile:
        parts["fused step, torch.compile'd encoder"] = _step_times(streaming_latency(replace(latency, compile=True)))
    return {
        "name": "robo_reward GRM (fused streaming step)", "parameters": count_parameters(model),
        "step": _step_times(step), "cuda_graph": cfg.cuda_graph, "parts": parts,
        "throughput_per_sample_ms": round(batch["ms_median"] / cfg.batch, 4), "peak_mib": _peak(device),
        "inputs": "3 cameras 96x96, START/GOAL features cached; fused = 3 perspectives, one batched head call",
    }


def bench_sarm(cfg: PeersConfig, device: torch.device) -> dict:
    from lerobot.rewards.sarm.configuration_sarm import SARMConfig
    from lerobot.rewards.sarm.modeling_sarm import SARMRewardModel
    from transformers import CLIPConfig, CLIPModel

    _reset_peak(device)
    torch.manual_seed(0)
    small = dict(hidden_dim=64, num_heads=2, num_layers=1) if cfg.tiny else {}
    sarm = SARMRewardModel(SARMConfig(device=str(device), **small)).to(device).eval()
    clip_cfg = CLIPConfig() if not cfg.tiny else CLIPConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=224,
                           patch_size=32), text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                             num_attention_heads=2), projection_dim=512)
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    clip = CLIPModel(clip_cfg).to(device, dtype).eval()
    window = sarm.config.n_obs_steps + 1
    frame = torch.randn(1, 3, 224, 224, device=device, dtype=dtype)
    frames = torch.randn(cfg.batch, 3, 224, 224, device=device, dtype=dtype)
    text = torch.randn(1, 512, device=device)
    hist = torch.randn(1, window - 1, 512, device=device)
    state = torch.zeros(1, window, sarm.config.max_state_dim, device=device)

    def step():
        emb = clip.get_image_features(pixel_values=frame)
        emb = emb.pooler_output if hasattr(emb, "pooler_output") else emb
        video = torch.cat([hist, emb.float()[:, None]], dim=1)
        return sarm.calculate_rewards(text, video, state)

    def batch():
        emb = clip.get_image_features(pixel_values=frames)
        emb = emb.pooler_output if hasattr(emb, "pooler_output") else emb
        video = emb.float()[:, None].expand(-1, window, -1).contiguous()
        return sarm.calculate_rewards(text.expand(cfg.batch, -1), video, state.expand(cfg.batch, -1, -1))

    with torch.no_grad():
        s = time_it(step, cfg.steps, cfg.warmup, device)
        b = time_it(batch, max(cfg.steps // 3, 3), 1, device)
    return {"name": "LeRobot SARM (CLIP ViT-B/32 + 2x8-layer transformers)" if not cfg.tiny else "LeRobot SARM (tiny)",
            "parameters": count_parameters(sarm) + count_parameters(clip), "step": s,
            "throughput_per_sample_ms": round(b["ms_median"] / cfg.batch, 4), "peak_mib": _peak(device),
            "inputs": f"1 camera 224x224 (SARM reads one), {window}-frame window with cached embeddings"}


def bench_qwen(cfg: PeersConfig, device: torch.device) -> dict:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    name = "GRM-3B architecture (Qwen2.5-VL-3B, 3 queries)" if not cfg.tiny else "Qwen2.5-VL (tiny)"
    if device.type == "cpu" and not cfg.tiny and not cfg.qwen_on_cpu:
        return {"name": name, "skipped": "3B model on a CPU: minutes per step (pass --qwen-on-cpu to time it anyway)"}
    _reset_peak(device)
    torch.manual_seed(0)
    qcfg = Qwen2_5_VLConfig(**(QWEN_TINY if cfg.tiny else QWEN_3B))
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    with device:  # initialise on the device: 3B random weights on a CPU take minutes
        model = Qwen2_5_VLForConditionalGeneration(qcfg).to(dtype).eval()
    n_img, grid = 8, 280 // 14
    per = grid * grid // 4
    ids = []
    for _ in range(n_img):
        ids += [qcfg.vision_start_token_id] + [qcfg.image_token_id] * per + [qcfg.vision_end_token_id]
    ids += list(range(10, 160))
    input_ids = torch.tensor([ids], device=device)
    pixels = torch.randn(n_img * grid * grid, 3 * 2 * 14 * 14, device=device, dtype=dtype)
    thw = torch.tensor([[1, grid, grid]] * n_img, device=device)

    def query():
        return model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values=pixels,
                              image_grid_thw=thw, max_new_tokens=12, min_new_tokens=12, do_sample=False)

    with torch.no_grad():
        q = time_it(query, max(cfg.steps // 10, 2), 1, device)
    return {"name": name, "parameters": count_parameters(model),
            "step": {"ms_median": round(3 * q["ms_median"], 1), "ms_p90": round(3 * q["ms_p90"], 1)}, "one_query": q,
            "peak_mib": _peak(device), "inputs": "per query: 8 images 280x280 + 150 text tokens, 12 generated tokens"}


def bench_peers(cfg: PeersConfig) -> dict:
    device = torch.device(cfg.device)
    entries = [bench_ours(cfg, device), bench_sarm(cfg, device), bench_qwen(cfg, device)]
    ours = entries[0]["step"]["ms_median"]
    for e in entries[1:]:
        if "step" in e:
            e["ours_faster_x"] = round(e["step"]["ms_median"] / ours, 1)
    result = run_record(cfg, device=torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
                        weights="random init (timing only)", batch_for_throughput=cfg.batch, entries=entries)
    if cfg.out is not None:
        out = Path(cfg.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out.with_suffix(".json"), result)
        _plot(out.with_suffix(".png"), entries, result["device"])
    return result


def _plot(path: Path, entries: list[dict], device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [e for e in entries if "step" in e]
    fig, ax = plt.subplots(figsize=(7, 2.2 + 0.4 * len(timed)))
    ax.barh([e["name"] for e in timed], [e["step"]["ms_median"] for e in timed], color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("per control step, batch 1, median ms (log scale)")
    ax.set_title(f"reward model step latency on {device} (random weights)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
