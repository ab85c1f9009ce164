import numpy as np
import pandas as pd
import pytest
import torch

from robo_reward.bc.weights import RABCWeighter, weighted_mean


def table(progress_by_episode):
    rows, idx = [], 0
    for ep, values in enumerate(progress_by_episode):
        for f, p in enumerate(values):
            rows.append({"index": idx, "episode_index": ep, "frame_index": f, "progress_sparse": p})
            idx += 1
    return pd.DataFrame(rows)


def test_weights_by_hand():
    # one episode, chunk 1: deltas 0.5, 0.0, -0.25, 0.005 and 0 at the clamped last frame
    w = RABCWeighter(table([[0.0, 0.5, 0.5, 0.25, 0.255]]), chunk=1, kappa=0.01)
    r = np.array([0.5, 0.0, -0.25, 0.005, 0.0])
    mu, sigma = max(r.mean(), 0.0), r.std()
    assert w.stats.mean == pytest.approx(mu) and w.stats.std == pytest.approx(sigma)
    soft = np.clip((r - (mu - 2 * sigma)) / (4 * sigma + 1e-6), 0, 1)
    expected = [1.0, soft[1], 0.0, soft[3], soft[4]]
    np.testing.assert_allclose(w.weights(np.arange(5)), expected)


def test_chunk_clamps_at_the_episode_end_not_across_episodes():
    w = RABCWeighter(table([[0.0, 0.2, 0.4], [0.9, 0.1]]), chunk=5)
    # frame 2 (episode 0) looks at itself; frame 3 (episode 1 start) looks at frame 4
    np.testing.assert_allclose(w._deltas_at(np.arange(5)), [0.4, 0.2, 0.0, -0.8, 0.0])


def test_weighted_mean():
    assert float(weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]))) == pytest.approx(1.0)


def test_bad_progress_tables():
    with pytest.raises(ValueError, match="NaN progress at episode 0, index 1"):
        RABCWeighter(table([[0.0, np.nan]]), chunk=1)
    with pytest.raises(KeyError, match="lacks column 'progress_sparse'"):
        RABCWeighter(pd.DataFrame({"index": [0], "episode_index": [0]}), chunk=1)
    w = RABCWeighter(table([[0.0, 0.5]]), chunk=1)
    with pytest.raises(KeyError, match="frame index 7 has no progress value"):
        w.weights(np.array([7]))


def test_same_weights_as_lerobot(tiny_grm, mixed_dataset, tmp_path):
    """LeRobot's own RA-BC code reads the parquet `robo-reward score` writes and gives our weights."""
    from lerobot.rewards.sarm.rabc import RABCWeights

    from robo_reward.reward.evaluate import ScoreConfig, score_to_parquet

    root, _ = mixed_dataset
    path = score_to_parquet(ScoreConfig(tiny_grm, root, tmp_path / "progress.parquet", "cpu"), progress=False)
    ours = RABCWeighter.from_parquet(path, chunk=5)
    theirs = RABCWeights(path, chunk_size=5, head_mode="sparse", device=torch.device("cpu"))
    idx = np.arange(len(ours.index))
    w_ours = ours.weights(idx)
    w_theirs, _ = theirs.compute_batch_weights({"index": torch.from_numpy(idx)})
    # LeRobot normalises a batch to sum to its size; compare after the same normalisation
    np.testing.assert_allclose(w_theirs.numpy(), w_ours * len(idx) / (w_ours.sum() + 1e-6), rtol=1e-4, atol=1e-5)
    assert theirs.delta_mean == pytest.approx(ours.stats.mean) and theirs.delta_std == pytest.approx(ours.stats.std)
