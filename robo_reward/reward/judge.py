"""Success judged by the reward model, for an arm where nobody says when an episode succeeded: the model's
progress Φ high, in the task's last subtask and sure of it, for `hold` steps in a row. One spike of Φ (a
glimpse that looks done) is not enough; a reading that wavers resets the count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Judge:
    """When the model's reading counts as success. The defaults were chosen on validation episodes (pick-place with its
    carry subtask: the scripted modes and a policy's own episodes, scripts/bench_success_judge.py; docs/BENCHMARKS.md).
    A hold of one step calls the release itself, a step early; longer holds miss successes whose Φ sags on frames after
    the success that training never showed; a spread bound only lost successes."""

    progress: float = 0.9  # Φ at least this
    hold: int = 2  # for this many steps in a row (0.2 s at 10 Hz)
    max_uncertainty: float = 1.0  # with the model's spread at most this (a std of hops in [-1, 1]: 1.0 is no bound)
    final_stage: bool = True  # and its stage head reading the task's last subtask

    def __post_init__(self) -> None:
        if not 0.0 < self.progress <= 1.0 or self.hold < 1 or self.max_uncertainty <= 0:
            raise ValueError(f"judge: progress in (0, 1], hold >= 1 and max_uncertainty > 0, got {self}")


class SuccessJudge:
    """Streams one episode's readings; `step` says whether the episode has succeeded by now."""

    def __init__(self, judge: Judge, stages: int) -> None:
        self.judge, self.last_stage = judge, stages - 1
        self.reset()

    def reset(self) -> None:
        self.run = 0

    def convinced(self, phi: float, stage: int, uncertainty: float) -> bool:
        """One reading on its own: what the count is made of."""
        j = self.judge
        return phi >= j.progress and uncertainty <= j.max_uncertainty and (not j.final_stage or stage == self.last_stage)

    def step(self, phi: float, stage: int, uncertainty: float) -> bool:
        self.run = self.run + 1 if self.convinced(phi, stage, uncertainty) else 0
        return self.run >= self.judge.hold


def first_success(judge: Judge, stages: int, phi, stage, uncertainty) -> int | None:
    """The step at which `judge` first calls a recorded episode's readings a success (None: never)."""
    j = SuccessJudge(judge, stages)
    for t, reading in enumerate(zip(phi, stage, uncertainty)):
        if j.step(*reading):
            return t
    return None


def verdict_rates(judged, success_at_verdict, success_seen) -> dict:
    """How the judge's verdicts compare with the true success, per episode (arrays over episodes): a false positive
    is a verdict in a state that is not a success; a false negative an episode whose state was a success at some step
    and got no verdict. Rates over the episodes that were negatives (false positives + no verdict, no success) and
    positives (right verdicts + false negatives)."""
    judged, at, seen = (np.asarray(x, bool) for x in (judged, success_at_verdict, success_seen))
    fp, fn = judged & ~at, ~judged & seen
    negatives, positives = int((fp | (~judged & ~seen)).sum()), int(((judged & at) | fn).sum())
    return {"episodes": len(judged), "judged": int(judged.sum()), "false_positives": int(fp.sum()), "negatives": negatives,
            "false_negatives": int(fn.sum()), "positives": positives,
            "false_positive_rate": float(fp.sum() / negatives) if negatives else None,
            "false_negative_rate": float(fn.sum() / positives) if positives else None}
