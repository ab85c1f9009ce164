import numpy as np
import pytest

from robo_reward.reward.infer import FUSIONS, fuse, incremental_step
from robo_reward.reward.labels import (
    apply_hop,
    hop_label,
    hop_to_bin,
    progress_labels,
    smoothed_bin_targets,
    subtask_shares,
)
from robo_reward.reward.metrics import auroc, classify_completion, voc
from robo_reward.types import SubtaskSpan

NAMES = ("reach", "grasp")


def test_hop_forward_and_backward_by_hand():
    # forward: from 0.2 to 0.6 gains 0.4 of the remaining 0.8
    assert hop_label(0.2, 0.6) == pytest.approx(0.5)
    # backward: from 0.8 to 0.2 loses 0.6 of the achieved 0.8
    assert hop_label(0.8, 0.2) == pytest.approx(-0.75)
    assert hop_label(0.5, 0.5) == 0.0
    assert hop_label(1.0, 1.0) == 0.0
    assert hop_label(0.0, 1.0) == pytest.approx(1.0)
    assert hop_label(1.0, 0.0) == pytest.approx(-1.0)


def test_apply_hop_inverts_hop_label():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(0.01, 0.99, 200), rng.uniform(0, 1, 200)
    np.testing.assert_allclose(apply_hop(p, hop_label(p, q)), q, atol=1e-9)


def test_equal_share_progress_by_hand():
    spans = (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 5))
    phi = progress_labels(spans, NAMES, 6, success=True, shares=subtask_shares(NAMES, "equal"))
    np.testing.assert_allclose(phi, [0.25, 0.5, 0.625, 0.75, 0.875, 1.0])


def test_unfinished_subtask_earns_nothing():
    spans = (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 5))
    phi = progress_labels(spans, NAMES, 6, success=False, shares=subtask_shares(NAMES, "equal"))
    np.testing.assert_allclose(phi, [0.25, 0.5, 0.5, 0.5, 0.5, 0.5])


def test_a_drop_loses_the_progress_and_a_regrasp_earns_it_again():
    shares = subtask_shares(NAMES, "equal")
    dropped = (SubtaskSpan("reach", 0, 1), SubtaskSpan("grasp", 2, 3), SubtaskSpan("reach", 4, 5))
    np.testing.assert_allclose(progress_labels(dropped, NAMES, 6, success=False, shares=shares),
                               [0.25, 0.5, 0.5, 0.5, 0.0, 0.0])
    regrasped = dropped[:2] + (SubtaskSpan("reach", 4, 5), SubtaskSpan("grasp", 6, 7))
    np.testing.assert_allclose(progress_labels(regrasped, NAMES, 8, success=True, shares=shares),
                               [0.25, 0.5, 0.5, 0.5, 0.25, 0.5, 0.75, 1.0])


def test_prior_based_progress_by_hand():
    shares = subtask_shares(NAMES, "prior", {"reach": 0.2, "grasp": 0.6})  # renormalised: 0.25 / 0.75
    spans = (SubtaskSpan("reach", 0, 0), SubtaskSpan("grasp", 1, 3))
    phi = progress_labels(spans, NAMES, 4, success=True, shares=shares)
    np.testing.assert_allclose(phi, [0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match="needs the dataset's temporal proportions"):
        subtask_shares(NAMES, "prior")


def test_bins_and_smoothing():
    assert hop_to_bin(np.array([-1.0, 0.0, 1.0]), 25).tolist() == [0, 12, 24]
    t = smoothed_bin_targets(np.array([0.0, 0.97]), 25)
    np.testing.assert_allclose(t.sum(1), 1.0)
    assert t[0].argmax() == 12 and t[1].argmax() == 24


def test_fusion_stays_in_unit_interval():
    rng = np.random.default_rng(1)
    phi = np.zeros(500)
    for t in range(1, 500):
        phi[t] = incremental_step(phi[t - 1], rng.uniform(-1.5, 1.5))
    assert phi.min() >= 0.0 and phi.max() <= 1.0
    f, b = rng.uniform(-0.5, 1.5, 500), rng.uniform(-0.5, 1.5, 500)
    std_f, std_b = rng.uniform(0, 0.6, 500), rng.uniform(0, 0.6, 500)
    for fusion in FUSIONS:
        fused = fuse(phi, f, b, fusion, std_f=std_f, std_b=std_b)
        assert fused.min() >= 0.0 and fused.max() <= 1.0
    with pytest.raises(ValueError, match="fusion must be one of"):
        fuse(phi, f, b, "median", std_f=std_f, std_b=std_b)


def test_kalman_fusion_believes_the_more_certain_anchor():
    """Forward reads the truth, backward its mirror image, the chain stands still: Φ* ends near whichever
    anchor is confident."""
    t, still = np.linspace(0, 1, 60), np.full(60, 0.5)
    sure, unsure = np.full(60, 0.05), np.full(60, 0.5)
    assert fuse(still, t, 1 - t, "kalman", std_f=sure, std_b=unsure)[-1] > 0.65  # (lags a ramp the chain misses)
    assert fuse(still, t, 1 - t, "kalman", std_f=unsure, std_b=sure)[-1] < 0.35
    with pytest.raises(ValueError, match="pass std_f and std_b"):
        fuse(t, t, t, "kalman")


def test_kalman_fusion_follows_a_drop_the_chain_misses():
    """After a drop the incremental chain stays at 0.75 while both anchors read ~0: the filter is corrected
    down within the episode, where the chain alone would keep the dropped object 'nearly done'."""
    n = 60
    up = np.r_[np.linspace(0, 0.75, 30), np.zeros(n - 30)]
    inc = np.r_[np.linspace(0, 0.75, 30), np.full(n - 30, 0.75)]
    std = np.full(n, 0.15)
    fused = fuse(inc, up, up + np.r_[np.zeros(30), np.full(n - 30, 0.03)], "kalman", std_f=std, std_b=std)
    assert fused[29] > 0.65 and fused[-1] < 0.2


def test_consistency_fusion_trusts_agreement():
    t = np.linspace(0, 1, 20)
    agree = fuse(t, t, t, "consistency")
    assert agree[-1] > 0.8  # anchored estimates agree: follows them
    disagree = fuse(t, t, 1 - t, "consistency")
    assert disagree[-1] < 0.6  # they contradict each other: stays conservative


def test_consistency_fusion_follows_a_drop_the_anchors_agree_on():
    """Progress 0.75 then a drop: both anchors read ~0 (a few hundredths apart, as a trained model does)
    and the incremental chain stays high. Φ* must come down; a relative disagreement with a 1e-3 floor
    froze it at 0.75 (a dropped cube scored as nearly done)."""
    n = 60
    up = np.r_[np.linspace(0, 0.75, 30), np.full(n - 30, 0.0)]
    f, b = up.copy(), up + np.r_[np.zeros(30), np.full(n - 30, 0.03)]
    inc = np.r_[np.linspace(0, 0.75, 30), np.full(n - 30, 0.75)]
    assert fuse(inc, f, b, "consistency")[-1] < 0.1
    assert fuse(inc, f, b, "consistency", eps=1e-3)[-1] > 0.7


def test_metrics():
    assert voc(np.arange(10.0)) == pytest.approx(1.0)
    assert voc(np.arange(10.0)[::-1]) == pytest.approx(-1.0)
    assert classify_completion(np.linspace(0, 1, 30)) == "success"
    assert classify_completion(np.full(30, 0.5)) == "partial"
    assert classify_completion(np.full(30, 0.1)) == "failure"
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5], [0.5]) == 0.5
    assert auroc([], [0.1]) is None


def test_a_modes_negatives_are_its_episodes_physics_did_not_call_success():
    """A MetaWorld near miss can slide home (labelled success by physics): it is not a negative of auroc_vs_near_miss
    nor counted in near_miss_scored_not_success."""
    from robo_reward.reward.evaluate import summarize

    def row(mode, outcome, final, pred):
        return {"episode": 0, "mode": mode, "outcome": outcome, "length": 10, "true/pred": outcome,
                "fused/final": final, "fused/voc": 1.0, "fused/pred": pred, "fused/mae": 0.0}

    rows = [row("expert", "success", 0.9, "success"), row("near_miss", "success", 0.95, "success"),
            row("near_miss", "partial", 0.5, "partial"), row("stall", "success", 0.92, "success")]
    m = summarize(rows, curves=("fused",))
    assert m["auroc_vs_near_miss"] == 1.0 and m["near_miss_scored_not_success"] == 1.0
    assert "auroc_vs_stall" not in m  # every stall succeeded: no negatives of that mode
