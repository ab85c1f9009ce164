import numpy as np
import pytest

from robo_reward.data.annotations import (
    EpisodeAnnotation,
    frame_stage,
    spans_from_completion,
    temporal_proportions,
)
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


def test_spans_of_a_failure_are_one_subtask():
    assert spans_from_completion(np.zeros(5, int), NAMES) == (SubtaskSpan("reach", 0, 4),)


def test_decreasing_completion_is_rejected():
    with pytest.raises(ValueError, match="never decrease"):
        spans_from_completion(np.array([0, 1, 0]), NAMES)


def test_frame_stage():
    spans = (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3))
    assert frame_stage(spans, list(NAMES), 4).tolist() == [0, 0, 1, 1]
    with pytest.raises(KeyError, match="'pour'"):
        frame_stage((SubtaskSpan("pour", 0, 3),), list(NAMES), 4)


def test_temporal_proportions_average_full_episodes():
    a = EpisodeAnnotation(0, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 5, 9)), "success", "expert", 0)
    b = EpisodeAnnotation(1, 4, (SubtaskSpan("reach", 0, 0), SubtaskSpan("grasp", 1, 3)), "success", "expert", 1)
    partial = EpisodeAnnotation(2, 4, (SubtaskSpan("reach", 0, 3),), "failure", "stall", 2)
    props = temporal_proportions([a, b, partial], ["reach", "grasp"])
    # reach: mean(0.5, 0.25) = 0.375; grasp: mean(0.5, 0.75) = 0.625 (the partial one is ignored)
    assert props == pytest.approx({"reach": 0.375, "grasp": 0.625})


def test_annotation_validates_spans():
    with pytest.raises(ValueError, match="episode 3: subtask 'grasp' spans frames \\[5, 12\\] outside \\[0, 9\\]"):
        EpisodeAnnotation(3, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 5, 12)), "success", "expert", 0)
    with pytest.raises(ValueError, match="before the previous one ended"):
        EpisodeAnnotation(3, 10, (SubtaskSpan("reach", 0, 4), SubtaskSpan("grasp", 3, 9)), "success", "expert", 0)
    with pytest.raises(ValueError, match="outcome 'win'"):
        EpisodeAnnotation(3, 10, (), "win", "expert", 0)
