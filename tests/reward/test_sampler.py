"""The pair sampler's batches: which episode each state came from (for per-episode augmentation), and
the same batches whether sampled in-process or by worker processes (reproducible for a seed)."""

import numpy as np
import pytest
import torch

from robo_reward.reward.bank import PairSampler, SamplerConfig, pair_batches
from robo_reward.bench.reward import synthetic_bank
from robo_reward.reward.train import AUGMENTATIONS, augment, sampler_workers


@pytest.fixture(scope="module")
def bank():
    return synthetic_bank(episodes=4, length=12, image_size=16)


def _sampler(bank, seed=0):
    return PairSampler(bank, np.zeros((1, 384), np.float32), SamplerConfig(batch_size=6), seed=seed)


def _same(a, b) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in a.__dict__)


def test_episode_ids_name_each_states_episode(bank):
    batch = _sampler(bank).sample()
    ids = batch.episode.tolist()
    assert len(ids) == len(batch.frames) and sorted(set(ids)) == list(range(max(ids) + 1))
    # synthetic episodes have random pixels: a state's frames are found in exactly the episode its id names
    owner = {}
    for state, k in zip(batch.frames.numpy(), ids, strict=True):
        hits = [i for i, e in enumerate(bank.episodes) if (e.frames == state).all(axis=(1, 2, 3, 4)).any()]
        assert len(hits) == 1
        assert owner.setdefault(k, hits[0]) == hits[0]


def test_in_process_stream_is_the_samplers(bank):
    stream = pair_batches(_sampler(bank), workers=0)
    direct = _sampler(bank)
    for _ in range(3):
        assert _same(next(stream), direct.sample())


def test_worker_streams_are_reproducible_and_distinct(bank):
    def take(n):
        stream = pair_batches(_sampler(bank, seed=5), workers=2)
        batches = [next(stream) for _ in range(n)]
        stream.close()
        return batches

    first, again = take(4), take(4)
    assert all(_same(a, b) for a, b in zip(first, again, strict=True))
    assert not _same(first[0], first[1])  # round-robin over two workers with streams of their own
    assert not _same(first[0], _sampler(bank, seed=5).sample())


def test_negative_worker_count_is_rejected(bank):
    with pytest.raises(ValueError, match="sampler workers must be >= 0"):
        next(pair_batches(_sampler(bank), workers=-1))


def test_per_episode_augmentation_shares_draws_within_an_episode():
    g = torch.Generator().manual_seed(0)
    frame = torch.randint(0, 256, (1, 3, 24, 24, 3), generator=g, dtype=torch.uint8)
    x = frame.repeat(4, 1, 1, 1, 1)  # four copies of one state: two from episode 0, two from episode 1
    episode = torch.tensor([0, 0, 1, 1])
    y = augment(x, torch.Generator().manual_seed(1), AUGMENTATIONS["strong-episode"], episode)
    assert torch.equal(y[0], y[1]) and torch.equal(y[2], y[3]) and not torch.equal(y[0], y[2])
    assert not torch.equal(y[0, 0], y[0, 1])  # each camera still moves on its own
    z = augment(x, torch.Generator().manual_seed(1), AUGMENTATIONS["strong"], episode)
    assert not torch.equal(z[0], z[1])  # the per-state preset ignores the ids


def test_auto_worker_count(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert sampler_workers(-1, torch.device("cpu")) == 0 and sampler_workers(2, torch.device("cpu")) == 2
    assert sampler_workers(-1, torch.device("cuda")) == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # eight ranks on 16 cores: one worker each
    assert sampler_workers(-1, torch.device("cuda")) == 1
    with pytest.raises(ValueError, match="--sampler-workers must be -1"):
        sampler_workers(-2, torch.device("cpu"))
