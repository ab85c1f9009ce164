"""One-shot adaptation: a tiny pick-place GRM adapted to peg-insertion from one collected demo."""

import json

import numpy as np
import pytest
import torch

from robo_reward.cli import main
from robo_reward.data.collect import CollectConfig, collect
from robo_reward.data.lerobot_io import read_info
from robo_reward.reward.adapt import AdaptConfig, adapt, format_report, grow_subtasks, l2sp_advice, pull_toward
from robo_reward.reward.checkpoint import load_checkpoint

PEG = "insert the peg into the hole"


@pytest.fixture(scope="module")
def peg_sets(tmp_path_factory):
    base = tmp_path_factory.mktemp("peg")
    demo, held = base / "demo", base / "held"
    collect(CollectConfig(task="peg-insert", out=demo, episodes=1, seed=7), progress=False)
    collect(CollectConfig(task="peg-insert", out=held, episodes=3, seed=9000), progress=False)
    return demo, held


def test_adapt_improves_voc_on_held_out_episodes(tiny_grm, peg_sets, tmp_path):
    demo, held = peg_sets
    out = tmp_path / "adapted"
    # l2sp=0: a 20-step parent has nothing worth staying close to
    report = adapt(AdaptConfig(model=tiny_grm, demo=str(demo), out=out, steps=80, batch_size=16, lr=3e-4,
                               eval=str(held), replay_episodes=2, l2sp=0.0), progress=False)
    before, after = report["eval"]["before"], report["eval"]["after"]
    assert after["voc_mean"] > before["voc_mean"] + 0.1, (before["voc_mean"], after["voc_mean"])
    assert after["voc_mean"] > 0.5
    # stage labels index the model's own subtask vocabulary: the new task's stages are learned
    assert after["stage_accuracy"] > max(0.6, before["stage_accuracy"] + 0.2), (before["stage_accuracy"], after["stage_accuracy"])
    # the new checkpoint knows the new task and its subtasks, and records where it came from
    model, tasks, meta = load_checkpoint(out / "last")
    text = tasks.texts[-1]
    assert "peg" in text and set(tasks.subtasks[-1]) <= set(model.cfg.subtasks)
    assert meta["parent"]["path"] == str(tiny_grm) and meta["adapted_on"]["episode"] == 0
    assert meta["adapted_on"]["annotation"] == "the demo's subtask annotation"
    assert report["replayed"], "the parent's training data is on disk: it must be mixed in"
    assert (out / "progress_before_after.png").stat().st_size > 0
    saved = json.loads((out / "adapt_report.json").read_text())
    assert saved["eval"]["after"]["voc_mean"] == pytest.approx(after["voc_mean"])
    assert "l2sp_advice" in saved and saved["l2sp_advice"] is None  # --l2sp 0: nothing pulls, no note


def test_grow_subtasks_keeps_existing_outputs(tiny_grm):
    model, _, _ = load_checkpoint(tiny_grm)
    grown = grow_subtasks(model, ("reach", "turn", "push"))
    old = len(model.cfg.subtasks)
    assert grown.cfg.subtasks[:old] == model.cfg.subtasks and grown.cfg.subtasks[old:] == ("turn", "push")
    z = torch.randn(4, model.cfg.dim)
    t = torch.randn(4, 384)
    mask = torch.ones(4, old, dtype=torch.bool)
    a = model.stage_logits(z, z, t, mask)
    b = grown.stage_logits(z, z, t, torch.ones(4, old + 2, dtype=torch.bool))
    np.testing.assert_allclose(a.detach().numpy(), b[:, :old].detach().numpy(), atol=1e-5)


def test_bad_adapt_inputs_fail_before_training(tiny_grm, peg_sets, mixed_dataset, tmp_path):
    demo, _ = peg_sets
    args = ["adapt", "--model", str(tiny_grm), "--out", str(tmp_path / "x")]
    assert main(args + ["--demo", str(demo), "--episode", "5"]) == 2  # out of range
    assert main(args + ["--demo", str(demo), "--task", "  "]) == 2  # empty task text
    assert main(args + ["--demo", str(demo), "--camera-map", "front=top,side=top2,wrist=top3"]) == 2  # no camera feeds
    failure = next(a.episode_index for a in read_info(mixed_dataset[0]).episodes if a.outcome != "success")
    assert main(args + ["--demo", str(mixed_dataset[0]), "--episode", str(failure)]) == 2  # not a success
    assert main(args + ["--demo", str(demo), "--subtasks", ",".join(f"s{i}" for i in range(20))]) == 2  # too short
    assert main(args + ["--demo", str(demo), "--augment", "heavy"]) == 2  # unknown augmentation preset
    assert not (tmp_path / "x").exists()


def test_adapt_messages_name_the_problem(tiny_grm, peg_sets, tmp_path):
    demo, _ = peg_sets
    with pytest.raises(ValueError, match="--episode 5 is out of range"):
        adapt(AdaptConfig(model=tiny_grm, demo=str(demo), out=tmp_path / "y", episode=5), progress=False)
    with pytest.raises(ValueError, match="adaptation needs at least"):
        adapt(AdaptConfig(model=tiny_grm, demo=str(demo), out=tmp_path / "y", subtasks=tuple(f"s{i}" for i in range(20))),
              progress=False)


def test_l2sp_keeps_the_adapted_weights_near_the_parent(tiny_grm, peg_sets, tmp_path):
    p, p0 = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 0.0, 0.5])
    pull_toward([p], [p0], 0.25)
    np.testing.assert_allclose(p.numpy(), [0.75, -1.5, 0.5])  # 1/4 of the way back; at the parent: no move
    with pytest.raises(ValueError, match="--l2sp must be >= 0"):
        AdaptConfig(model="m", demo="d", out="o", l2sp=-1.0).validate()

    parent = load_checkpoint(tiny_grm)[0].encoder.state_dict()
    moved = {}
    for l2sp in (0.0, 1000.0):
        adapt(AdaptConfig(model=tiny_grm, demo=str(peg_sets[0]), out=tmp_path / f"l2sp{l2sp:g}", steps=30, batch_size=8,
                          lr=3e-4, replay_episodes=1, l2sp=l2sp), progress=False)
        enc = load_checkpoint(tmp_path / f"l2sp{l2sp:g}" / "last")[0].encoder.state_dict()
        moved[l2sp] = sum(float((enc[k].float() - parent[k].float()).norm()) for k in parent)
    assert moved[1000.0] < 0.5 * moved[0.0], moved


def test_l2sp_advice_only_when_the_parent_fails_the_imposters():
    def report(l2sp, rejected):
        return {"config": {"l2sp": l2sp}, "eval": {"before": {"imposter_scored_not_success": rejected}}}

    assert "--l2sp 0" in l2sp_advice(report(300.0, 0.0))
    assert "17%" in l2sp_advice(report(300.0, 1 / 6))
    assert l2sp_advice(report(300.0, 1.0)) is None  # the parent already rejects them: the pull protects that
    assert l2sp_advice(report(0.0, 0.0)) is None  # nothing pulls
    assert l2sp_advice(report(300.0, None)) is None  # the eval set has no imposters
    assert l2sp_advice({"config": {"l2sp": 300.0}}) is None  # no --eval
    rep = {**report(300.0, 0.0), "adapted_on": {"dataset": "d", "episode": 0, "frames": 9, "annotation": "a"}, "seconds": 1.0}
    rep["eval"]["after"] = {}
    rep["l2sp_advice"] = l2sp_advice(rep)
    assert format_report(rep).splitlines()[-1] == rep["l2sp_advice"]  # the terminal shows the note adapt recorded
