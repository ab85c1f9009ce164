"""The real nodes over real DDS (loopback, own domain per test): sim_robot_node as the robot,
RosRobotEnv against the in-process env, reward_node against the in-process scorer, the policy
node's clamps, hold and refusals, `robo-reward rl --env ros`, and the launch files."""

import ast
import dataclasses
import json
import re
import time

import numpy as np
import pytest
import yaml

from robo_reward.envs import SimConfig, make_env
from robo_reward.envs.ros import RosEnvConfig, RosRobotEnv
from robo_reward.envs.tasks import TASKS
from robo_reward.reward.checkpoint import load_checkpoint
from robo_reward.rl.config import PRE_REDESIGN, rl_config
from robo_reward.reward.infer import Scorer, StreamingScorer
from robo_reward.ros.messages import STATUS_TOPIC, image_msg, joint_state_msg
from robo_reward.ros.profiles import load_profile

pytestmark = pytest.mark.ros

import rclpy
from rosutil import ROS_PKG, spin_until

PP = ("pick up the cube and place it in the bin", TASKS["pick-place"].subtasks, 60)


def _small_moves(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.append(state[:7] + rng.normal(0, 0.05, 7), rng.uniform(-1, 1))


def test_ros_env_matches_in_process_env(ros):
    ros.start("sim_robot_node", task="pick-place", lockstep=True)
    env = RosRobotEnv(*PP, RosEnvConfig(timeout_s=60))
    local = make_env("pick-place", SimConfig(control="joint"))
    try:
        rng = np.random.default_rng(0)
        for seed in (0, 12):  # 0 = the node's start-up seed: its start-up frame must not pass for our reset
            ts, lt = env.reset(seed), local.reset(seed)
            for _ in range(8):
                np.testing.assert_array_equal(ts.obs.state, lt.obs.state[:15])
                for cam in lt.obs.images:
                    np.testing.assert_array_equal(ts.obs.images[cam], lt.obs.images[cam])
                assert (ts.reward, ts.terminated, ts.truncated) == (lt.reward, lt.terminated, lt.truncated)
                np.testing.assert_allclose(ts.info.privileged, lt.info.privileged, atol=1e-6)
                a = _small_moves(lt.obs.state, rng)
                ts, lt = env.step(a), local.step(a)
    finally:
        env.close()
        local.close()


def _stream_through_reward_node(ros, tiny_grm, steps: int = 10, **params):
    """`steps` lockstep sim frames through reward_node (started with `params`): what it published for each frame
    (in order), the in-process streaming scorer's readings of the same frames, and the model's subtask count."""
    from sensor_msgs.msg import JointState

    from robo_reward.ros.qos import RELIABLE_QOS

    ros.start("sim_robot_node", task="pick-place", lockstep=True)
    reward = ros.start("reward_node", model=str(tiny_grm), sim_status=True, slop_s=0.0, **params)
    env = RosRobotEnv(*PP, RosEnvConfig(timeout_s=60))
    got: dict[float, list[float]] = {}
    env.node.create_subscription(JointState, "/robo_reward/reward",
                                 lambda m: got.__setitem__(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, list(m.position)),
                                 RELIABLE_QOS)
    try:
        assert spin_until(env.node, lambda: env.node.count_publishers("/robo_reward/reward") > 0, 60), ros.log(reward)
        # camera subscriptions are best effort: a frame sent before the node's subscriptions are discovered is lost.
        # Its status subscription comes last (the env holds the other one)
        assert spin_until(env.node, lambda: env.node.count_subscribers(STATUS_TOPIC) >= 2, 60), ros.log(reward)
        time.sleep(1.0)  # and the sim's publishers match them
        rng = np.random.default_rng(1)
        frames, stamps = [], []
        ts = env.reset(21)
        for _ in range(steps):
            frames.append(ts.obs.images)
            stamps.append(env.latest.stamp)
            # camera subscriptions are best effort (sensor-data QoS): pace the lockstep sim to the scorer
            assert spin_until(env.node, lambda: stamps[-1] in got, 30), f"{len(got)} rewards\n{ros.log(reward)}"
            ts = env.step(_small_moves(ts.obs.state, rng))
    finally:
        env.close()
    model, tasks, _ = load_checkpoint(tiny_grm)
    stream = StreamingScorer(Scorer(model, tasks), PP[0])
    return [got[s] for s in stamps], [stream.step(f) for f in frames], len(stream.names)


def test_reward_node_matches_in_process_scorer(ros, tiny_grm):
    got, want, _ = _stream_through_reward_node(ros, tiny_grm)
    np.testing.assert_allclose([g[0] for g in got], [w.progress for w in want], atol=1e-5)
    np.testing.assert_allclose([g[2] for g in got], [w.uncertainty for w in want], atol=1e-5)
    assert [int(g[1]) for g in got] == [w.stage for w in want]
    assert all(g[4] >= 0 for g in got)  # latency, ms
    assert not any(g[5] for g in got)  # no verdicts unless the model judges success


def test_reward_node_judges_success_and_holds_the_verdict(ros, tiny_grm):
    """success_from:=model: `judged_success` turns 1 where the judge, fed the in-process readings, first calls the
    episode done, and stays 1 (the episode is over: nothing more is paid) until the next reset."""
    from robo_reward.reward.judge import Judge, first_success

    # the tiny model (20 steps) never reads the last subtask in ten random steps: any stage, a low bar, a hold of 3
    judge = Judge(progress=0.01, hold=3, max_uncertainty=10.0, final_stage=False)
    got, want, stages = _stream_through_reward_node(ros, tiny_grm, success_from="model", judge_progress=judge.progress,
                                                    judge_hold=judge.hold, judge_uncertainty=judge.max_uncertainty,
                                                    judge_any_stage=True)
    # the judge reads the steps after the reset frame, as in `rl --success-from model` (OnlineReward)
    after = first_success(judge, stages, *zip(*[(w.progress, w.stage, w.uncertainty) for w in want[1:]]))
    assert after is not None, [w.progress for w in want]  # else the checks below would pass vacuously
    at = 1 + after
    assert [g[5] for g in got] == [float(t >= at) for t in range(len(got))]
    assert got[at][3] > 0.5  # r_gold, once, at the verdict
    assert all(g[3] == 0.0 for g in got[at + 1:])


class FakeArm:
    """Publishes joint states and camera images like a robot driver would (test side)."""

    def __init__(self, node, profile):
        from sensor_msgs.msg import Image, JointState

        from robo_reward.ros.qos import RELIABLE_QOS

        self.p, self.node = profile, node
        self.q = profile.home.copy()
        self.pub_j = node.create_publisher(JointState, profile.joint_states_topic, RELIABLE_QOS)
        self.pub_i = {c: node.create_publisher(Image, t, RELIABLE_QOS) for c, t in profile.cameras.items()}
        self.cameras_on = True
        self.img = np.zeros((*profile.image_size, 3), np.uint8)

    def publish(self):
        stamp = self.node.get_clock().now().to_msg()
        self.pub_j.publish(joint_state_msg(self.p.joint_names, self.q, np.zeros(self.p.dof), stamp))
        if self.cameras_on:
            for c, pub in self.pub_i.items():
                pub.publish(image_msg(self.img, stamp, c))


def _run(node, arm, seconds):
    end = time.monotonic() + seconds
    next_pub = 0.0
    while time.monotonic() < end:
        if time.monotonic() >= next_pub:
            arm.publish()
            next_pub = time.monotonic() + 0.1
        rclpy.spin_once(node, timeout_sec=0.01)


def test_policy_node_disabled_then_clamps_then_holds(ros, tmp_path):
    from std_msgs.msg import String
    from std_srvs.srv import SetBool
    from trajectory_msgs.msg import JointTrajectory

    from robo_reward.ros.qos import RELIABLE_QOS

    p = load_profile("sim_panda")
    wild = np.tile(np.append(p.upper + 2.0, 1.0), (200, 1))  # far outside the limits
    np.save(tmp_path / "wild.npy", wild)
    policy = ros.start("policy_node", policy=f"replay:{tmp_path / 'wild.npy'}", enabled=False)
    node = rclpy.create_node("test_arm")
    arm = FakeArm(node, p)
    states, commands = [], []
    node.create_subscription(String, "/robo_reward/policy_state", lambda m: states.append(m.data), RELIABLE_QOS)
    node.create_subscription(JointTrajectory, p.trajectory_topic, lambda m: commands.append(np.array(m.points[0].positions)),
                             RELIABLE_QOS)
    assert spin_until(node, lambda: node.count_subscribers(p.joint_states_topic) > 0, 30), ros.log(policy)
    _run(node, arm, 1.5)
    assert states and states[-1] == "disabled" and not commands  # nothing moves until enabled

    client = node.create_client(SetBool, "/policy_node/enable")
    assert client.wait_for_service(timeout_sec=10), ros.log(policy)
    future = client.call_async(SetBool.Request(data=True))
    assert spin_until(node, future.done, 10) and future.result().success
    states.clear()
    _run(node, arm, 1.5)
    assert "clamped" in states and commands
    for cmd in commands:
        assert np.all(cmd <= p.upper + 1e-9) and np.all(np.abs(cmd - arm.q) <= p.max_step + 1e-9)

    arm.cameras_on = False  # cameras stop: the watchdog holds the arm where it is
    states.clear()
    _run(node, arm, p.stale_after_s + 1.0)
    holds = [s for s in states if s.startswith("hold: stale")]
    assert holds and "front" in holds[-1] and "joints" not in holds[-1], states
    np.testing.assert_allclose(commands[-1], arm.q)
    node.destroy_node()


def test_hold_policy_holds_the_arm_and_leaves_the_gripper_alone(ros):
    from std_msgs.msg import Float64
    from trajectory_msgs.msg import JointTrajectory

    from robo_reward.ros.qos import RELIABLE_QOS

    p = load_profile("sim_panda")
    policy = ros.start("policy_node", policy="hold", enabled=True)
    node = rclpy.create_node("test_hold")
    arm = FakeArm(node, p)
    commands, grips = [], []
    node.create_subscription(JointTrajectory, p.trajectory_topic, lambda m: commands.append(np.array(m.points[0].positions)),
                             RELIABLE_QOS)
    node.create_subscription(Float64, p.gripper_topic, grips.append, RELIABLE_QOS)
    assert spin_until(node, lambda: node.count_subscribers(p.joint_states_topic) > 0, 30), ros.log(policy)
    _run(node, arm, 1.5)
    node.destroy_node()
    assert commands and all(np.allclose(c, arm.q) for c in commands)
    assert not grips  # a hold must not open or close a gripper that may be holding something


def test_reward_node_skips_frames_of_the_wrong_size_loudly(ros, tiny_grm):
    from sensor_msgs.msg import JointState

    from robo_reward.ros.qos import RELIABLE_QOS

    p = load_profile("sim_panda")
    reward = ros.start("reward_node", model=str(tiny_grm))
    node = rclpy.create_node("test_camera")
    arm = FakeArm(node, p)
    arm.img = np.zeros((64, 64, 3), np.uint8)  # the profile says 96x96
    got = []
    node.create_subscription(JointState, "/robo_reward/reward", got.append, RELIABLE_QOS)
    assert spin_until(node, lambda: node.count_subscribers(p.cameras["front"]) > 0, 30), ros.log(reward)
    _run(node, arm, 2.0)
    node.destroy_node()
    assert not got  # nothing scored from bad frames ...
    assert "frame skipped" in ros.log(reward) and "image is 64x64, the profile expects 96x96" in ros.log(reward)


def test_nodes_refuse_bad_configuration(ros, tmp_path, tiny_grm):
    np.save(tmp_path / "short.npy", np.zeros((5, 4)))
    bad_policy = ros.start("policy_node", policy=f"replay:{tmp_path / 'short.npy'}")
    text = (ROS_PKG.parents[2] / "hardware" / "sim_panda.yaml").read_text()
    (tmp_path / "nolimits.yaml").write_text(text.replace("  upper:", "  uper:"))
    no_limits = ros.start("policy_node", profile=str(tmp_path / "nolimits.yaml"))
    (tmp_path / "onecam.yaml").write_text(re.sub(r"  side: .*\n  wrist: .*\n", "", text))
    missing_cam = ros.start("reward_node", model=str(tiny_grm), profile=str(tmp_path / "onecam.yaml"))
    for proc, message in ((bad_policy, "the robot takes 7 joints + gripper"), (no_limits, "missing 'joints.upper'"),
                          (missing_cam, "has no topic for ['side', 'wrist']")):
        assert proc.wait(60) == 1
        assert "refusing to start" in ros.log(proc) and message in ros.log(proc)


def test_rl_over_ros_then_the_policy_node_runs_the_trained_policy(ros, tmp_path, tiny_grm):
    from robo_reward.cli import main

    sim = ros.start("sim_robot_node", task="pick-place", lockstep=True)
    out = tmp_path / "rl"
    try:  # the unchanged loop, GRM-shaped, on camera frames through the policy's own encoder, through RosRobotEnv
        rc = main(["rl", "--config", str(PRE_REDESIGN), "--task", "pick-place", "--env", "ros", "--episodes", "2", "--warmup-steps", "50",
                   "--batch-size", "32", "--reward", f"grm:{tiny_grm}", "--obs", "state+images", "--eval-episodes", "0",
                   "--out", str(out)])
    except TimeoutError as exc:
        raise AssertionError(ros.log(sim)) from exc
    assert rc == 0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["length"] > 0 for r in rows)
    sim.terminate()
    sim.wait(10)

    # deploy: the trained actor drives the free-running sim through the policy node
    commands = _deploy(ros, f"rl:{out}")
    assert all(len(c) == 7 for c in commands)


def _deploy(ros, policy_spec: str) -> list[np.ndarray]:
    """Run `policy_spec` on the policy node against the free-running sim until it has acted 5 times; the joint targets
    it commanded (the test fails with the node's log if it never runs)."""
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

    from robo_reward.ros.qos import RELIABLE_QOS

    ros.start("sim_robot_node", task="pick-place", lockstep=False)
    policy = ros.start("policy_node", policy=policy_spec, enabled=True)
    node = rclpy.create_node("test_deploy")
    states, commands = [], []
    p = load_profile("sim_panda")
    node.create_subscription(String, "/robo_reward/policy_state", lambda m: states.append(m.data), RELIABLE_QOS)
    node.create_subscription(JointTrajectory, p.trajectory_topic, lambda m: commands.append(np.array(m.points[0].positions)),
                             RELIABLE_QOS)
    ok = spin_until(node, lambda: sum(s in ("running", "clamped") for s in states) >= 5, 60)
    node.destroy_node()
    assert ok, f"{states[-5:]}\n{ros.log(policy)}"
    assert commands
    return commands


def _launch_nodes(path):
    """(executable, name, parameter keys) of each launch_ros Node(...) in a launch file."""
    found = []
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Node":
            kw = {k.arg: k.value for k in call.keywords}
            keys = set()
            for item in kw["parameters"].elts:
                if isinstance(item, ast.Dict):
                    keys |= {k.value for k in item.keys}
            found.append((kw["executable"].value, kw["name"].value, keys))
    return found


def test_launch_files_match_entry_points_and_parameters():
    setup = (ROS_PKG / "setup.py").read_text()
    nodes = set(ast.literal_eval(re.search(r"NODES = (\(.*?\))", setup).group(1)))
    declared = {n: set(re.findall(r'declare_parameter\("(\w+)"', (ROS_PKG / "robo_reward_ros" / f"{n}.py").read_text()))
                for n in nodes}
    for launch in ("sim", "robot"):
        config = yaml.safe_load((ROS_PKG / "config" / f"{launch}.yaml").read_text())
        for exe, name, keys in _launch_nodes(ROS_PKG / "launch" / f"{launch}.launch.py"):
            assert exe in nodes, f"{launch}.launch.py runs {exe}, not an entry point"
            assert keys <= declared[exe], f"{launch}.launch.py passes {keys - declared[exe]} to {exe}"
            yaml_keys = set(config.get(name, {}).get("ros__parameters", {}))
            assert yaml_keys <= declared[exe], f"config/{launch}.yaml sets {yaml_keys - declared[exe]} on {name}"
    assert "sim_robot_node" in {e for e, _, _ in _launch_nodes(ROS_PKG / "launch" / "sim.launch.py")}
    assert "sim_robot_node" not in {e for e, _, _ in _launch_nodes(ROS_PKG / "launch" / "robot.launch.py")}


def test_a_person_takes_over_through_the_intervention_topic_and_bad_commands_hold_the_arm(ros):
    """RosRobotEnv listening on the intervention topic over DDS: a fresh command replaces the policy's action and is
    executed; a command with the wrong joint count is dropped and the arm holds; a stale one lets the policy act."""
    from robo_reward.environment_loop import HOLD, INTERVENTION, Action
    from robo_reward.rl.intervention import RosTakeover
    from robo_reward.ros.messages import INTERVENTION_TOPIC
    from robo_reward.ros.qos import RELIABLE_QOS
    from sensor_msgs.msg import JointState

    ros.start("sim_robot_node", task="pick-place", lockstep=True)
    env = RosRobotEnv(*PP, RosEnvConfig(timeout_s=60, intervention_topic=INTERVENTION_TOPIC, intervention_timeout_s=1.0))
    person = rclpy.create_node("test_person")
    pub = person.create_publisher(JointState, INTERVENTION_TOPIC, RELIABLE_QOS)
    takeover = RosTakeover(env)
    try:
        ts = env.reset(5)
        policy = Action(np.append(ts.obs.state[:7], -1.0))
        assert takeover.override(ts, None, policy) is None  # nobody at the teleop: the policy acts
        target = ts.obs.state[:7] + np.array([0.1, -0.1, 0.0, 0.1, 0.0, 0.0, 0.0])
        names = list(env.profile.joint_names) + [env.profile.gripper_joint]
        assert spin_until(env.node, lambda: pub.get_subscription_count() > 0, 20)
        pub.publish(joint_state_msg(names, np.append(target, 1.0), [], person.get_clock().now().to_msg()))
        assert spin_until(env.node, lambda: env.teleop() is not None, 20)
        taken = takeover.override(ts, None, policy)
        assert taken.by == INTERVENTION
        np.testing.assert_allclose(taken.env, np.append(target, 1.0))
        for _ in range(5):
            ts = env.step(taken.env)
        np.testing.assert_allclose(ts.obs.state[:7], target, atol=0.03)  # the person's command was executed
        pub.publish(joint_state_msg(names[:5], np.zeros(5), [], person.get_clock().now().to_msg()))  # a 5-joint arm's command
        assert spin_until(env.node, lambda: env.teleop() is not None and env.teleop().action is None, 20)
        held = takeover.override(ts, None, policy)
        assert held.by == HOLD and "no ['joint6', 'joint7', 'gripper']" in env.teleop().problem
        np.testing.assert_allclose(held.env, np.append(ts.obs.state[:7], 1.0), atol=1e-6)  # where it is, gripper as it was
        time.sleep(1.1)
        assert takeover.override(ts, None, policy) is None  # the person let go
    finally:
        person.destroy_node()
        env.close()


def test_policy_node_runs_a_bc_end_effector_policy_through_the_ik_bridge(ros, tmp_path, mixed_dataset, tiny_grm):
    from robo_reward.bc.train import BCConfig, train_bc

    root, _ = mixed_dataset
    out = tmp_path / "bc"
    train_bc(BCConfig(data=root, out=out, reward_model=tiny_grm, steps=20, batch_size=16, eval_episodes=0), progress=False)
    no_kinematics = ros.start("policy_node", policy=f"bc:{out}", profile="so101")
    commands = _deploy(ros, f"bc:{out}")
    assert all(len(c) == 7 and np.all(np.isfinite(c)) for c in commands)
    assert np.ptp(np.array(commands), axis=0).max() > 1e-3  # joint targets from end-effector steps: the arm is driven
    assert no_kinematics.wait(60) == 1
    assert "profile so101 names no kinematics" in ros.log(no_kinematics)


def test_actor_launch_file_joins_the_learners_ray_cluster_with_the_robot_resource():
    """rl_actor.launch.py starts `ray start --block --address HEAD --resources {"robot": 1}` (what the run's actors ask
    for with --dist.actor-resource robot); parsed, as ROS launch needs a ROS install to run."""
    tree = ast.parse((ROS_PKG / "launch" / "rl_actor.launch.py").read_text())
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "ExecuteProcess"]
    assert len(calls) == 1
    cmd = ast.literal_eval(ast.unparse(calls[0].keywords[0].value).replace("LaunchConfiguration('head')", "'HEAD'")
                           .replace("LaunchConfiguration('resource')", "'robot'"))
    assert cmd[:3] == ["ray", "start", "--block"] and cmd[3:5] == ["--address", "HEAD"]
    assert json.loads("".join(cmd[6])) == {"robot": 1}
    from robo_reward.rl.config import DistConfig

    assert "actor_resource" in {f.name for f in dataclasses.fields(DistConfig)}


def test_an_image_run_on_a_profile_without_its_cameras_is_refused_before_any_step(ros, tmp_path):
    """`rl --env ros --obs state+images` reading a camera the robot profile lacks: named, both lists, before a step."""
    from robo_reward.rl.config import make_rl_env

    text = (ROS_PKG.parents[2] / "hardware" / "sim_panda.yaml").read_text()
    (tmp_path / "frontonly.yaml").write_text(re.sub(r"  side: .*\n  wrist: .*\n", "", text))
    ros.start("sim_robot_node", task="pick-place", lockstep=True)
    cfg = rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path / "run", env="ros", profile=str(tmp_path / "frontonly.yaml"),
                    obs="state+images", **{"demo_episodes": 0}).resolved((), "cpu")
    assert cfg.images.cameras == ("front", "wrist")
    with pytest.raises(ValueError, match=r"reads cameras \['front', 'wrist'\]; profile .*frontonly.yaml' has \['front'\] \(no \['wrist'\]\)"):
        make_rl_env(cfg, ())
