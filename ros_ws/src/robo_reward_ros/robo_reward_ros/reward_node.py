"""Streams the GRM over live cameras: N camera topics + joint states, approximately synced, one
streaming-scorer step per synced set; publishes progress, stage, uncertainty and the PBRS-shaped
reward stamped with the source images' stamp, and logs its latency (stamp -> publish) p50/p99.
With `success_from:=model` it also judges success (robo_reward.reward.judge: Φ high in the last stage, sure
of it, for `judge_hold` steps) and says so in `judged_success`, held at 1 until the episode resets: a real arm's
episode can then end without an operator (the shaped reward then pays r_gold once, at the verdict, as
`rl --success-from model` does).

Output: sensor_msgs/JointState on /robo_reward/reward used as a stamped named record (names
REWARD_FIELDS, values in `position`): the message wheels hold no custom types."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float64MultiArray, Int64MultiArray
from std_srvs.srv import Trigger

from robo_reward.reward.checkpoint import load_checkpoint
from robo_reward.reward.infer import DEFAULT_FUSION
from robo_reward.reward.judge import Judge
from robo_reward.reward.online import OnlineReward, RewardConfig
from robo_reward.ros.convert import ImageError
from robo_reward.ros.messages import RESET_TOPIC, REWARD_TOPIC_PREFIX, STATUS_TOPIC, parse_status, stamp_seconds, to_rgb
from robo_reward.ros.profiles import load_profile
from robo_reward.ros.sync import ApproximateTimeSync, Synced
from robo_reward.types import Observation, TimeStep
from robo_reward_ros.common import RELIABLE_QOS, SENSOR_QOS, spin

NO_STATE = np.zeros(0, np.float32)  # the reward reads the cameras only
REWARD_FIELDS = ("progress", "stage", "uncertainty", "shaped_reward", "latency_ms", "judged_success")


class RewardNode(Node):
    def __init__(self) -> None:
        super().__init__("reward_node")
        model_dir = self.declare_parameter("model", "").value
        if not model_dir:
            raise ValueError("parameter 'model' (a GRM checkpoint folder) is required")
        self.profile = p = load_profile(self.declare_parameter("profile", "sim_panda").value)
        self.gamma = float(self.declare_parameter("gamma", 0.99).value)
        compressed = bool(self.declare_parameter("compressed", False).value)
        model, tasks, _ = load_checkpoint(model_dir)
        task = self.declare_parameter("task", tasks.texts[0]).value
        missing = [c for c in model.cfg.cameras if c not in p.cameras]
        if missing:
            raise ValueError(f"the model reads cameras {list(model.cfg.cameras)}; profile {p.name} has no topic for {missing}")
        self.cameras = model.cfg.cameras
        # the reward the learner is paid, defined once (robo_reward.reward.online): pbrs on the model's Φ; gold comes
        # from the environment, which this node does not see
        judge = Judge()
        rcfg = RewardConfig(source=f"grm:{model_dir}", shaping="pbrs", gamma=self.gamma,
                            fusion=self.declare_parameter("fusion", DEFAULT_FUSION).value,
                            success=self.declare_parameter("success_from", "env").value,
                            judge_progress=float(self.declare_parameter("judge_progress", judge.progress).value),
                            judge_hold=int(self.declare_parameter("judge_hold", judge.hold).value),
                            judge_uncertainty=float(self.declare_parameter("judge_uncertainty", judge.max_uncertainty).value),
                            judge_any_stage=bool(self.declare_parameter("judge_any_stage", False).value))
        self.reward = OnlineReward(rcfg, task, "cpu", loaded=(model, tasks))
        # with the sim, its status joins each set: a new episode's first frame resets the stream
        # in order (a reset topic can race the first frame); a real arm resets via topic or service
        self.sim_status = bool(self.declare_parameter("sim_status", False).value)
        streams = [*self.cameras, "joints"] + (["status"] if self.sim_status else [])
        self.sync = ApproximateTimeSync(streams, slop=float(self.declare_parameter("slop_s", 0.5 / p.control_hz).value))
        self.episode = None
        kind = CompressedImage if compressed else Image
        for cam in self.cameras:
            topic = p.cameras[cam] + ("/compressed" if compressed else "")
            self.create_subscription(kind, topic, lambda m, c=cam: self.on_msg(c, m), SENSOR_QOS)
        self.create_subscription(JointState, p.joint_states_topic, lambda m: self.on_msg("joints", m), SENSOR_QOS)
        if self.sim_status:
            self.create_subscription(Float64MultiArray, STATUS_TOPIC, self.on_status, RELIABLE_QOS)
        else:
            self.create_subscription(Int64MultiArray, RESET_TOPIC, lambda _m: self.reset_episode(), RELIABLE_QOS)
        self.create_service(Trigger, "~/reset", self.on_reset_service)
        self.pub = self.create_publisher(JointState, REWARD_TOPIC_PREFIX, RELIABLE_QOS)
        self.latencies: deque[float] = deque(maxlen=int(self.declare_parameter("latency_window", 600).value))
        self.log_every = float(self.declare_parameter("log_every_s", 10.0).value)
        self._last_log = time.monotonic()
        self.fresh = True
        self.judged = False  # the judge's verdict on this episode (latched: the arm is done until the next reset)
        self.errors = 0
        self.get_logger().info(f"scoring {task!r} from {[p.cameras[c] for c in self.cameras]} at {p.image_size}")

    def reset_episode(self) -> None:
        self.fresh = True  # the next frame starts an episode: the reward resets on it

    def on_reset_service(self, _req, resp):
        self.reset_episode()
        resp.success, resp.message = True, "streaming state reset"
        return resp

    def on_status(self, msg) -> None:
        st = parse_status(msg)
        synced = self.sync.add("status", st.stamp, st)
        if synced is not None:
            self.on_synced(synced)

    def on_msg(self, stream: str, msg) -> None:
        synced = self.sync.add(stream, stamp_seconds(msg.header.stamp), msg)
        if synced is not None:
            self.on_synced(synced)

    def on_synced(self, synced: Synced) -> None:
        p = self.profile
        try:
            images = {c: to_rgb(synced.items[c], p.image_size, p.cameras[c]) for c in self.cameras}
        except ImageError as exc:  # bad frames are skipped, loudly; nothing is scored from them
            self.errors += 1
            self.get_logger().error(f"frame skipped: {exc}", throttle_duration_sec=2.0)
            return
        if self.sim_status:
            st = synced.items["status"]
            if st.step == 0 and st.episode != self.episode:
                self.reset_episode()
            self.episode = st.episode
        ts = TimeStep(Observation(images, NO_STATE, 0.0), 0.0, False, False)  # success is the environment's to say
        if self.fresh:
            self.judged = False
        step = self.reward.reset(ts) if self.fresh else self.reward.step(ts)
        self.fresh = False
        shaped = 0.0 if self.judged else float(step.reward.total)  # after the verdict the episode is over: nothing paid
        self.judged = self.judged or step.success  # only the judge says success here: the frames carry no flag
        stamp = synced.items["joints"].header.stamp
        msg = JointState()
        msg.header.stamp = stamp
        msg.name = list(REWARD_FIELDS)
        now = self.get_clock().now().nanoseconds * 1e-9
        latency_ms = (now - synced.stamp) * 1e3
        msg.position = [float(step.phi), float(step.stage), float(step.uncertainty), shaped, float(latency_ms),
                        float(self.judged)]
        self.pub.publish(msg)
        self.latencies.append(latency_ms)
        if time.monotonic() - self._last_log > self.log_every and self.latencies:
            lat = np.array(self.latencies)
            self.get_logger().info(f"latency stamp->publish p50 {np.percentile(lat, 50):.1f} ms, p99 "
                                   f"{np.percentile(lat, 99):.1f} ms over {len(lat)}; skipped frames {self.errors}")
            self._last_log = time.monotonic()


def main() -> None:
    spin(RewardNode)


if __name__ == "__main__":
    main()
