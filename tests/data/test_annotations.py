from pathlib import Path

import numpy as np
import pytest

from robo_reward.data.annotations import (
    EpisodeAnnotation,
    frame_stage,
    span_completed,
    spans_from_completion,
    temporal_proportions,
)
from robo_reward.data.inspection import summarize_dataset
from robo_reward.data.lerobot_io import DatasetInfo
from robo_reward.types import SubtaskSpan

NAMES = ("reach", "grasp", "lift", "place")


def test_spans_of_a_successful_episode():
    # reach done at frame 2, grasp at 4, lift at 7, place (success) at 9; 11 frames
    completed = np.array([0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4])
    assert spans_from_completion(completed, NAMES) == (
        SubtaskSpan("reach", 0, 2), SubtaskSpan("grasp", 3, 4), SubtaskSpan("lift", 5, 7), SubtaskSpan("place", 8, 10),
    )


def test_spans_of_a_partial_episode_stop_at_the_subtask_it_was_stuck_in():
    completed = np.array([0, 1, 1, 2, 2, 2, 2])  # stuck in lift
    assert spans_from_completion(completed, NAMES) == (
        SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3), SubtaskSpan("lift", 4, 6),
    )


def test_subtasks_completed_together_on_the_last_frame_each_keep_a_frame():
    """A success that implies the earlier subtasks on its last frame (MetaWorld's drawer shut by a policy whose
    hand never came near the handle: the count jumps 0 -> 2 as the episode ends) still ends in the last
    subtask, so its labels reach 1; one that reached a subtask on its last frame is now in the next one."""
    names = ("reach", "push")
    assert spans_from_completion(np.array([0, 0, 0, 0, 2]), names) == (SubtaskSpan("reach", 0, 3), SubtaskSpan("push", 4, 4))
    assert spans_from_completion(np.array([0, 0, 0, 1]), NAMES) == (SubtaskSpan("reach", 0, 2), SubtaskSpan("grasp", 3, 3))
    assert spans_from_completion(np.array([0, 4]), NAMES) == (SubtaskSpan("lift", 0, 0), SubtaskSpan("place", 1, 1))
    # earlier in the episode the later subtask takes the next frame, as before
    assert spans_from_completion(np.array([0, 2, 2, 2]), NAMES) == (
        SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 2), SubtaskSpan("lift", 3, 3))


def test_spans_of_a_failure_are_one_subtask():
    assert spans_from_completion(np.zeros(5, int), NAMES) == (SubtaskSpan("reach", 0, 4),)


def test_a_drop_starts_the_spans_again_from_the_subtask_it_fell_back_to():
    # grasped at frame 3, dropped at frame 6 (count back to 0), reached again at frame 8
    completed = np.array([0, 1, 1, 2, 2, 2, 0, 0, 1, 1])
    spans = spans_from_completion(completed, NAMES)
    assert spans == (
        SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3), SubtaskSpan("lift", 4, 5),
        SubtaskSpan("reach", 6, 8), SubtaskSpan("grasp", 9, 9),
    )
    done = [span_completed(spans, i, NAMES, success=False) for i in range(len(spans))]
    assert done == [True, True, False, True, False]  # lift was lost, the last grasp never finished
    assert span_completed(spans[:2], 1, NAMES, success=True)


def test_completion_counts_out_of_range_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 4\], got 0..5"):
        spans_from_completion(np.array([0, 1, 5]), NAMES)


def test_frame_stage():
    spans = (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3))
    assert frame_stage(spans, list(NAMES), 4).tolist() == [0, 0, 1, 1]
    with pytest.raises(KeyError, match="'pour'"):
        frame_stage((SubtaskSpan("pour", 0, 3),), list(NAMES), 4)


def test_temporal_proportions_average_full_episodes():
    a = EpisodeAnnotation(0, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 5, 9)), "success", "expert", 0)
    b = EpisodeAnnotation(1, 4, (SubtaskSpan("reach", 0, 0), SubtaskSpan("grasp", 1, 3)), "success", "expert", 1)
    partial = EpisodeAnnotation(2, 4, (SubtaskSpan("reach", 0, 3),), "failure", "stall", 2)
    dropped = EpisodeAnnotation(3, 4, (SubtaskSpan("grasp", 0, 1), SubtaskSpan("reach", 2, 3)), "failure", "drop", 3)
    props = temporal_proportions([a, b, partial, dropped], ["reach", "grasp"])
    # reach: mean(0.5, 0.25) = 0.375; grasp: mean(0.5, 0.75) = 0.625 (the partial and the dropped one are ignored)
    assert props == pytest.approx({"reach": 0.375, "grasp": 0.625})


def test_annotation_validates_spans():
    with pytest.raises(ValueError, match="episode 3: subtask 'grasp' spans frames \\[5, 12\\] outside \\[0, 9\\]"):
        EpisodeAnnotation(3, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 5, 12)), "success", "expert", 0)
    with pytest.raises(ValueError, match="before the previous one ended"):
        EpisodeAnnotation(3, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 3, 9)), "success", "expert", 0)
    with pytest.raises(ValueError, match="outcome 'win'"):
        EpisodeAnnotation(3, 10, (), "win", "expert", 0)


def test_dataset_summary_counts_a_re_entered_subtask_once_per_episode():
    regrasp = EpisodeAnnotation(0, 10, (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3), SubtaskSpan("reach", 4, 6),
                                        SubtaskSpan("grasp", 7, 9)), "success", "expert", 0)
    stall = EpisodeAnnotation(1, 10, (SubtaskSpan("reach", 0, 9),), "failure", "stall", 1)
    info = DatasetInfo(Path("x"), 10.0, ("front",), ("reach", "grasp"), ("t",), (regrasp, stall), {"front": (8, 8, 3)})
    cov = summarize_dataset(info)["subtask_coverage"]
    assert cov["reach"] == {"episodes": 2, "mean_share": 0.75}  # mean(0.5, 1.0)
    assert cov["grasp"] == {"episodes": 1, "mean_share": 0.5}
