"""GRM checkpoints: a folder with weights (safetensors), the resolved config, the task table
(text, subtasks, text embedding, GOAL reference states) and a format version. Writes are atomic
(temp folder + rename), so a killed run never leaves a broken checkpoint behind."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np
from safetensors.torch import load_file, save_file

from robo_reward.config import FORMAT_VERSION, git_revision, to_jsonable, write_json
from robo_reward.fsutil import staging_dir, swap_in
from robo_reward.reward.model import GRM, ModelConfig

KIND = "robo_reward.grm"


class CheckpointError(ValueError):
    pass


@dataclass
class TaskTable:
    """What the model knows per task: kept with the weights so scoring needs no training data."""

    texts: list[str]
    subtasks: list[tuple[str, ...]]
    embeddings: np.ndarray  # [N, 384]
    goals: list[np.ndarray]  # per task: uint8 [K, V, H, W, 3]

    def index(self, text: str) -> int:
        if text not in self.texts:
            raise KeyError(f"task {text!r} is not known to this model (it knows {self.texts}); adapt it first")
        return self.texts.index(text)


def save_checkpoint(path: Path, model: GRM, tasks: TaskTable, extra: dict | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    path = Path(path)
    tmp = staging_dir(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / "model.safetensors"))
    arrays = {"text_embeddings": tasks.embeddings.astype(np.float32)}
    for i, g in enumerate(tasks.goals):
        arrays[f"goal_{i}"] = np.ascontiguousarray(g)
    save_np(arrays, str(tmp / "tasks.safetensors"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    meta = {
        "kind": KIND, "format_version": FORMAT_VERSION, "git_revision": git_revision(),
        "model": to_jsonable(model.cfg), "tasks": [{"text": t, "subtasks": list(s)} for t, s in zip(tasks.texts, tasks.subtasks, strict=True)],
        **(extra or {}),
    }
    write_json(tmp / "config.json", meta)
    return swap_in(tmp, path)


def read_meta(path: Path) -> dict:
    path = Path(path)
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise CheckpointError(f"{path} is not a robo_reward checkpoint: {cfg_path} is missing")
    meta = json.loads(cfg_path.read_text())
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{cfg_path}: not a GRM checkpoint (kind={meta.get('kind')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: checkpoint format version {meta.get('format_version')} is not supported "
                              f"(this robo_reward reads version {FORMAT_VERSION})")
    return meta


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> tuple[GRM, TaskTable, dict]:
    path = Path(path)
    meta = read_meta(path)
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    mcfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["model"].items() if k in fields})
    model = GRM(mcfg)
    state = load_file(str(path / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}/model.safetensors does not match the model: missing {missing}, unexpected {unexpected}")
    arrays = load_np(str(path / "tasks.safetensors"))
    n = len(meta["tasks"])
    tasks = TaskTable(
        texts=[t["text"] for t in meta["tasks"]], subtasks=[tuple(t["subtasks"]) for t in meta["tasks"]],
        embeddings=arrays["text_embeddings"], goals=[arrays[f"goal_{i}"] for i in range(n)],
    )
    return model.to(device).eval(), tasks, meta
