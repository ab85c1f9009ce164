"""`rl`'s nested configs: the recipe is the default, flags are grouped by config, the flat spellings from
before still parse, a run's config.json fed back with --config gives the same config, and bad input is named."""

import json

import pytest

from robo_reward.cli import build_parser
from robo_reward.config import config_from_args, run_record, to_jsonable, write_json
from robo_reward.rl.config import PRE_REDESIGN, RLConfig, rl_config


def parse(*flags: str) -> RLConfig:
    argv = ["rl", *flags]
    return config_from_args(RLConfig, build_parser(argv).parse_args(argv))


def test_the_benchmarked_recipe_is_what_rl_runs_by_default():
    cfg = parse("--task", "pick-place", "--reward", "grm:m", "--out", "x")
    assert (cfg.demos.episodes, cfg.pretrain.bc_steps, cfg.pretrain.critic_steps) == (20, 3000, 1000)
    assert (cfg.sac.bc_ensemble, cfg.sac.residual, cfg.sac.max_std, cfg.sac.init_alpha, cfg.sac.clone_noise) == (5, 0.05, 0.5, 0.01, 0.1)
    assert (cfg.utd, cfg.warmup_steps, cfg.episodes, cfg.eval_episodes) == (1, 256, 150, 40)
    assert cfg.policy_input == "state+grm" and cfg.reward.features == "views"  # the input a real arm has
    assert parse("--task", "pick-place", "--out", "x").policy_input == "privileged"  # no GRM: the sim's object state
    cfg.validate()


def test_nested_and_flat_flags_reach_the_same_field(capsys):
    nested = parse("--task", "t", "--out", "x", "--reward.source", "grm:m", "--reward.shaping", "delta", "--sac.gamma", "0.95",
                   "--demos.episodes", "3", "--pretrain.bc-steps", "7", "--env.kind", "ros", "--no-reward.value-bounds")
    flat = parse("--task", "t", "--out", "x", "--reward", "grm:m", "--shaping", "delta", "--gamma", "0.95",
                 "--demo-episodes", "3", "--bc-init-steps", "7", "--env", "ros", "--no-value-bounds")
    assert nested == flat and nested.sac.gamma == 0.95 and nested.env.kind == "ros"
    with pytest.raises(SystemExit):
        build_parser(["rl", "--help"]).parse_args(["rl", "--help"])
    text = capsys.readouterr().out
    for group in ("--reward.*", "--sac.*", "--demos.*", "--pretrain.*", "--env.*"):
        assert group in text  # one help section per config
    assert "--sac.residual RESIDUAL, --residual RESIDUAL" in text and "(default: 0.05)" in text  # the composed default


def test_a_runs_config_json_fed_back_gives_the_same_config(tmp_path):
    cfg = rl_config(task="pick-place", out=str(tmp_path / "a"), reward="grm:m", residual=0.1, demo_episodes=5, seed=3)
    write_json(tmp_path / "config.json", run_record(cfg.resolved(), obs_dim=10))
    again = parse("--config", str(tmp_path / "config.json"))
    assert again == cfg.resolved()
    assert parse("--config", str(tmp_path / "config.json"), "--seed", "4").seed == 4  # a flag replaces the file's value
    (tmp_path / "c.yaml").write_text("task: pick-place\nout: o\nsac:\n  residul: 0.1\n")
    with pytest.raises(ValueError, match=r"c.yaml, sac: unknown field\(s\) \['residul'\]"):
        parse("--config", str(tmp_path / "c.yaml"))
    with pytest.raises(ValueError, match="--out is required"):
        parse("--task", "pick-place")
    (tmp_path / "typed.yaml").write_text("task: pick-place\nout: o\nepisodes: many\n")
    with pytest.raises(ValueError, match="typed.yaml: --episodes must be int, got 'many'"):
        parse("--config", str(tmp_path / "typed.yaml"))
    (tmp_path / "broken.yaml").write_text("task: pick-place\nepisodes: [1\n")
    with pytest.raises(ValueError, match="broken.yaml: not valid YAML or JSON"):
        parse("--config", str(tmp_path / "broken.yaml"))


def test_the_pre_redesign_defaults_are_the_old_flat_defaults():
    """Every `rl` command in BENCHMARKS.md before the redesign ran with these: the file must keep them."""
    old = rl_config(PRE_REDESIGN, task="t", out="o")
    assert (old.episodes, old.obs, old.utd, old.warmup_steps, old.eval_episodes) == (100, "privileged", 2, 500, 20)
    assert (old.demos.episodes, old.pretrain.bc_steps, old.pretrain.critic_steps, old.reward.features) == (0, 0, 0, "fused")
    assert (old.sac.init_alpha, old.sac.residual, old.sac.bc_ensemble, round(old.sac.max_std, 6), old.sac.clone_noise) == (0.1, 0.0, 1, 7.389056, 0.0)
    assert json.loads(json.dumps(to_jsonable(old)))["sac"]["gamma"] == 0.99
