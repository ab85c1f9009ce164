"""The IK bridge: on the simulated Panda it reproduces the suite's own end-effector control (same TCP, same joint
targets), so a `bc` end-effector policy run through it on a joint-commanded arm drives the same episode as in the
suite; bad input and an arm without kinematics are named."""

import numpy as np
import pytest

from robo_reward.envs import SimConfig, make_env
from robo_reward.envs.arm import sim_path
from robo_reward.envs.ik_bridge import IKBridge


def test_bridge_state_and_targets_are_the_suites_own():
    """The TCP is the exact forward kinematics of the joints, and the targets are the suite's own control law
    (`ee_joint_targets`) evaluated at the same joints. (The suite's state reads the TCP where physics computed it at
    the start of its last 2 ms substep, up to 3 mm behind; the bridge reads the joints as reported, as a robot gives.)"""
    import mujoco

    from robo_reward.envs.arm import ArmSim
    from robo_reward.envs.suite import ee_joint_targets

    bridge = IKBridge(sim_path("robots", "panda_kinematics.xml"))
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",)))
    twin = ArmSim(sim_path("tasks", env.task.xml))  # the task's scene at the env's joints, kinematics up to date
    rng = np.random.default_rng(0)
    try:
        ts = env.reset(4)
        for _ in range(12):
            twin.data.qpos[:] = env.sim.data.qpos
            mujoco.mj_kinematics(twin.model, twin.data)
            state = bridge.state(ts.obs.state[:15])
            np.testing.assert_array_equal(state[:15], ts.obs.state[:15])
            np.testing.assert_allclose(bridge.tcp(env.sim.arm_q), twin.tcp_pos, atol=1e-12)
            np.testing.assert_allclose(state[15:], twin.tcp_pos, atol=1e-5)  # from float32 joints
            np.testing.assert_allclose(state[15:], ts.obs.state[15:], atol=3e-3)
            a = rng.uniform(-1, 1, 4)
            want = bridge.joint_targets(env.sim.arm_q, a)
            np.testing.assert_allclose(want[:7], ee_joint_targets(twin, a), atol=1e-9)
            assert want[-1] == pytest.approx(a[-1])
            ts = env.step(a)
    finally:
        env.close()


def test_bad_bridge_input_is_named():
    bridge = IKBridge(sim_path("robots", "panda_kinematics.xml"))
    with pytest.raises(ValueError, match="robot state has 14 values, expected 15"):
        bridge.state(np.zeros(14))
    with pytest.raises(ValueError, match="not 7 finite values"):
        bridge.joint_targets(np.full(7, np.nan), np.zeros(4))
    with pytest.raises(ValueError, match="not 4 finite values"):
        bridge.joint_targets(np.zeros(7), np.zeros(8))


def test_a_bc_policy_through_the_bridge_drives_a_joint_commanded_arm_as_in_the_suite(mixed_dataset, tiny_grm, tmp_path):
    """The same trained policy, once in the suite's ee control and once through the bridge on joint control."""
    from robo_reward.bc.deploy import BCPolicy
    from robo_reward.bc.train import BCConfig, train_bc
    from robo_reward.types import Observation, TimeStep

    root, _ = mixed_dataset
    out = tmp_path / "bc"
    train_bc(BCConfig(data=root, out=out, reward_model=tiny_grm, steps=30, batch_size=16, eval_episodes=0, seed=0), progress=False)
    bridge = IKBridge(sim_path("robots", "panda_kinematics.xml"))
    runs = {}
    for control in ("ee", "joint"):
        policy = BCPolicy(out, bridge)
        env = make_env("pick-place", SimConfig(cameras=policy.cameras, control=control))
        try:
            ts, states = env.reset(11), []
            policy.reset(ts)
            for _ in range(8):
                robot = TimeStep(Observation(ts.obs.images, ts.obs.state[:15], ts.obs.time), 0.0, False, False)
                action = policy.act(robot)  # from what a robot reports: env = joint targets + gripper, unit = the ee step
                ts = env.step(action.unit if control == "ee" else action.env)
                states.append(ts.obs.state)
        finally:
            env.close()
        runs[control] = np.array(states)
    # the same episode up to the suite's TCP lag: its ee control aims from the TCP a 2 ms substep behind, the bridge from
    # the joints' exact kinematics, and the difference adds up with the policy's speed (measured: joints within 0.032
    # rad, TCP within 1.1 cm after 8 steps; 1.6 cm with the policy trained on a GRM of train-reward's strong-colour
    # default); a bridge with wrong kinematics, units or gripper sign is off by far more
    np.testing.assert_allclose(runs["joint"][:, :7], runs["ee"][:, :7], atol=0.05)
    np.testing.assert_allclose(runs["joint"][:, 15:], runs["ee"][:, 15:], atol=0.02)
    np.testing.assert_allclose(runs["joint"][:, 14], runs["ee"][:, 14], atol=2e-3)  # the gripper
    assert np.abs(runs["ee"][-1, :7] - runs["ee"][0, :7]).max() > 1e-3  # the arm moved


def test_bc_policies_need_the_profiles_kinematics(tmp_path):
    from robo_reward.ros.profiles import HARDWARE_DIR, ProfileError, load_profile

    assert load_profile("sim_panda").kinematics == sim_path("robots", "panda_kinematics.xml")
    assert load_profile("so101").kinematics is None  # the policy node refuses bc: on it, naming the profile
    text = (HARDWARE_DIR / "sim_panda.yaml").read_text()
    (tmp_path / "copy.yaml").write_text(text)  # a shipped profile copied elsewhere still finds its model
    assert load_profile(tmp_path / "copy.yaml").kinematics == sim_path("robots", "panda_kinematics.xml")
    (tmp_path / "bad.yaml").write_text(text.replace("panda_kinematics.xml", "nowhere.xml"))
    with pytest.raises(ProfileError, match="kinematics '../sim/robots/nowhere.xml' not found"):
        load_profile(tmp_path / "bad.yaml")
