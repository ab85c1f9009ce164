"""Subtask annotations in LeRobot's SARM layout, and the maths that derives them.

An episode's annotation lists only the subtasks it actually entered, each with [start, end]
frames (end inclusive): the robot is "in" subtask k from the frame after subtask k-1 completed
until the frame where k completes (or the episode ends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from robo_reward.types import OUTCOMES, UNKNOWN_OUTCOME, SubtaskSpan

PREFIX = "sparse"
NAME_COL = f"{PREFIX}_subtask_names"
START_COL = f"{PREFIX}_subtask_start_frames"
END_COL = f"{PREFIX}_subtask_end_frames"
START_TIME_COL = f"{PREFIX}_subtask_start_times"
END_TIME_COL = f"{PREFIX}_subtask_end_times"
ANNOTATION_COLUMNS = (NAME_COL, START_COL, END_COL, START_TIME_COL, END_TIME_COL)
OUTCOME_COL = "outcome"  # success | partial | failure
MODE_COL = "episode_mode"  # how the episode was produced (expert, stall, near_miss, imposter, ...)
SEED_COL = "seed"
PROPORTIONS_FILE = f"temporal_proportions_{PREFIX}.json"
# LeRobot's annotator also writes the sparse annotation under these unprefixed (legacy) names
LEGACY_COLUMNS = {NAME_COL: "subtask_names", START_COL: "subtask_start_frames", END_COL: "subtask_end_frames",
                  START_TIME_COL: "subtask_start_times", END_TIME_COL: "subtask_end_times"}


@dataclass(frozen=True)
class EpisodeAnnotation:
    """Everything robo_reward keeps per episode beside LeRobot's own metadata."""

    episode_index: int
    length: int
    subtasks: tuple[SubtaskSpan, ...]
    outcome: str
    mode: str
    seed: int

    def __post_init__(self) -> None:
        if self.outcome not in (*OUTCOMES, UNKNOWN_OUTCOME):
            raise ValueError(f"episode {self.episode_index}: outcome {self.outcome!r} not in {OUTCOMES}")
        validate_spans(self.subtasks, self.length, where=f"episode {self.episode_index}")


def validate_spans(spans: Sequence[SubtaskSpan], length: int, where: str) -> None:
    """Spans must be ordered, non-overlapping and inside the episode."""
    prev_end = -1
    for s in spans:
        if not (0 <= s.start <= s.end < length):
            raise ValueError(f"{where}: subtask {s.name!r} spans frames [{s.start}, {s.end}] outside [0, {length - 1}]")
        if s.start <= prev_end:
            raise ValueError(f"{where}: subtask {s.name!r} starts at frame {s.start}, before the previous one ended ({prev_end})")
        prev_end = s.end


def spans_from_lerobot(names: Sequence[str], starts: Sequence[int] | None, ends: Sequence[int] | None,
                       start_times: Sequence[float] | None, end_times: Sequence[float] | None, fps: float, length: int,
                       where: str) -> tuple[tuple[SubtaskSpan, ...], list[str]]:
    """Spans as LeRobot's annotator writes them, made ours, and the subtasks dropped. Frames come from times by
    its own rule (int(t · fps)) when only times are stored; consecutive subtasks share their boundary frame
    there (the frame where one ends is where the next starts), which here belongs to the earlier one; an end one
    past the last frame (an end time equal to the episode's duration) is the last frame. A subtask left with no
    frame of its own (shorter than the annotation's time resolution: LeRobot's annotator writes whole seconds)
    is dropped and named, so the caller can say so; anything else that overlaps or leaves the episode is an
    error naming the episode and subtask."""
    if starts is None or ends is None:
        if start_times is None or end_times is None:
            raise ValueError(f"{where}: subtask {list(names)} have neither start/end frames nor times")
        starts, ends = [int(t * fps) for t in start_times], [int(t * fps) for t in end_times]
    if not len(names) == len(starts) == len(ends):
        raise ValueError(f"{where}: {len(names)} subtask names but {len(starts)} starts and {len(ends)} ends")
    spans: list[SubtaskSpan] = []
    dropped: list[str] = []
    for name, start, end in zip(names, (int(x) for x in starts), (int(x) for x in ends), strict=True):
        end = length - 1 if end == length else end
        if spans and start == spans[-1].end:  # the shared boundary frame stays with the subtask that ends on it
            start += 1
        if start == end + 1 and (not spans or start == spans[-1].end + 1):
            dropped.append(str(name))  # no frame of its own at this time resolution
            continue
        spans.append(SubtaskSpan(str(name), start, end))
    validate_spans(spans, length, where)
    return tuple(spans), dropped


def spans_from_completion(completed: np.ndarray, names: Sequence[str]) -> tuple[SubtaskSpan, ...]:
    """Subtask spans from the per-frame count of completed subtasks.

    Frame t belongs to subtask min(completed[t], N-1); the frame on which subtask k completes
    still belongs to k, so each span ends where its subtask is achieved. A count that falls (the
    robot dropped what it held) starts the list again from the subtask it fell back to: a subtask
    followed by one that is not the next was not completed (see `span_completed`)."""
    completed = np.asarray(completed)
    if completed.ndim != 1 or len(completed) == 0:
        raise ValueError("completion counts must be a non-empty 1-D array")
    if np.any(completed < 0) or np.any(completed > len(names)):
        raise ValueError(f"completion counts must lie in [0, {len(names)}], got {completed.min()}..{completed.max()}")
    cuts = np.nonzero(np.diff(completed) < 0)[0] + 1
    spans: list[SubtaskSpan] = []
    for offset, segment in zip([0, *cuts], np.split(completed, cuts), strict=True):
        spans += [SubtaskSpan(s.name, s.start + offset, s.end + offset) for s in _monotone_spans(segment, names)]
    return tuple(spans)


def _monotone_spans(completed: np.ndarray, names: Sequence[str]) -> list[SubtaskSpan]:
    """Spans of one stretch whose count never falls, frames counted from the stretch's start.

    Subtasks completed on the same frame get a frame each: the later ones the frames after it, or, where the
    stretch ends on that frame, the earlier ones give frames back. A success on the last frame that implies the
    earlier subtasks (a drawer slammed shut without the hand ever near its handle) then still ends in the last
    subtask, and its progress labels reach 1 instead of stopping at the first subtask's share."""
    n, t_last = len(names), len(completed) - 1
    ends: list[int] = []
    for k in range(n):
        done = np.nonzero(completed >= k + 1)[0]
        end = t_last if k == n - 1 or not len(done) else int(done[0])  # frames after the last completion show the finished task
        ends.append(max(end, ends[-1] + 1) if ends else end)
        if not len(done):
            break
    ends[-1] = min(ends[-1], t_last)
    for k in range(len(ends) - 2, -1, -1):
        ends[k] = min(ends[k], ends[k + 1] - 1)
    starts = [0] + [e + 1 for e in ends[:-1]]
    return [SubtaskSpan(names[k], max(s, 0), e) for k, (s, e) in enumerate(zip(starts, ends, strict=True)) if e >= 0]


def span_completed(spans: Sequence[SubtaskSpan], i: int, names: Sequence[str], success: bool) -> bool:
    """Span i's subtask was achieved: the next span is a later subtask, or it is the last span of a
    successful episode. A next span of the same or an earlier subtask means the progress was lost."""
    if i == len(spans) - 1:
        return success
    return list(names).index(spans[i + 1].name) > list(names).index(spans[i].name)


def frame_stage(spans: Sequence[SubtaskSpan], names: Sequence[str], length: int) -> np.ndarray:
    """Per-frame subtask index into `names` (frames before the first span get the first span's)."""
    stage = np.zeros(length, dtype=np.int64)
    for s in spans:
        if s.name not in names:
            raise KeyError(f"subtask {s.name!r} is not one of the task's subtasks {list(names)}")
        stage[s.start : s.end + 1] = names.index(s.name)
    return stage


def temporal_proportions(annotations: Sequence[EpisodeAnnotation], names: Sequence[str]) -> dict[str, float]:
    """SARM's dataset prior: the mean share of each subtask in the episodes that went through all
    subtasks once, in order (falling back to all episodes), renormalised to sum to 1. Frame-exact, unlike
    LeRobot's whole-second rounding."""
    full = [a for a in annotations if [s.name for s in a.subtasks] == list(names)] or list(annotations)
    if not full:
        raise ValueError("no annotated episodes to compute temporal proportions from")
    shares = np.zeros(len(names))
    for a in full:
        for s in a.subtasks:
            shares[names.index(s.name)] += (s.end - s.start + 1) / a.length
    shares /= len(full)
    total = shares.sum()
    if total <= 0:
        raise ValueError("subtask spans cover no frames")
    return {name: float(v / total) for name, v in zip(names, shares, strict=True)}
