"""How an episode's outcome (success / partial / failure) is known, for datasets robo_reward did not write.

In order: the dataset's own `outcome` column (what `collect` and the importers write); else LeRobot's per-frame
`next.success` or `next.reward` (gym_manipulator / HIL-SERL recordings: success where a frame says so, or pays
a reward of 1); else a rule the user chooses (`--outcome-from`). Without any of them outcomes are unknown, and
whatever needs them (training, evaluation, demonstrations) refuses the dataset by name: never a silent default.
An episode that did not succeed is partial or a failure by the subtasks its annotation completed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from robo_reward.data.annotations import span_completed
from robo_reward.types import PARTIAL_PROGRESS, UNKNOWN_OUTCOME, SubtaskSpan

RULES = ("last-subtask", "all-success", "labels:<FILE.json>")
RECORDED = "recorded (outcome column)"
UNKNOWN = UNKNOWN_OUTCOME
FRAME_COLUMNS = ("next.success", "next.reward")  # LeRobot's per-frame success signals, in order of preference


class OutcomeError(ValueError):
    pass


@dataclass(frozen=True)
class OutcomeRule:
    """A user's rule for a dataset that records no outcome."""

    kind: str  # last-subtask | all-success | labels
    labels: dict[int, str] | None = None
    source: str = ""

    @classmethod
    def parse(cls, text: str) -> OutcomeRule:
        if text in ("last-subtask", "all-success"):
            return cls(text, source=text)
        if text.startswith("labels:"):
            path = Path(text[len("labels:"):])
            if not path.exists():
                raise FileNotFoundError(f"--outcome-from {text}: no such file")
            try:
                raw = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise OutcomeError(f"--outcome-from {text}: not valid JSON ({exc})") from exc
            if not isinstance(raw, dict) or not all(str(k).isdigit() for k in raw):
                raise OutcomeError(f"{path}: expected {{\"<episode index>\": \"success|partial|failure\", ...}}")
            labels = {int(k): str(v) for k, v in raw.items()}
            bad = {k: v for k, v in labels.items() if v not in ("success", "partial", "failure")}
            if bad:
                raise OutcomeError(f"{path}: outcomes must be success, partial or failure; got {bad}")
            return cls("labels", labels, f"labels from {path}")
        raise OutcomeError(f"--outcome-from must be one of {RULES}, got {text!r}")


def outcome_of(success: bool, spans: Sequence[SubtaskSpan], subtasks: Sequence[str]) -> str:
    """success, or partial / failure by the share of the task's subtasks the annotation completed and kept (the
    completion rule's partial line, as for recorded episodes): after a span that falls back to an earlier subtask
    (a dropped object) only what was completed again counts."""
    if success:
        return "success"
    order = [list(subtasks).index(s.name) if s.name in subtasks else -1 for s in spans]
    kept = max([i for i in range(1, len(spans)) if order[i] <= order[i - 1]], default=0)
    done = sum(span_completed(spans, i, subtasks, False) for i in range(kept, len(spans)))
    return "partial" if subtasks and done / len(subtasks) >= PARTIAL_PROGRESS else "failure"


def episode_success(frames: pd.DataFrame, column: str) -> bool:
    """From one episode's rows: any frame flagged successful, or paid a reward of 1 (HIL-SERL's success reward)."""
    values = np.asarray(frames[column].to_numpy(), dtype=float).reshape(len(frames), -1)
    return bool((values >= 1.0 - 1e-6).any()) if column == "next.reward" else bool(values.astype(bool).any())


def apply_rule(rule: OutcomeRule, episode: int, spans: Sequence[SubtaskSpan], subtasks: Sequence[str]) -> str:
    if rule.kind == "all-success":
        return "success"
    if rule.kind == "labels":
        if rule.labels is None or episode not in rule.labels:
            raise OutcomeError(f"{rule.source}: no outcome for episode {episode}")
        return rule.labels[episode]
    reached = bool(spans) and bool(subtasks) and spans[-1].name == subtasks[-1]
    return outcome_of(reached, spans, subtasks)
