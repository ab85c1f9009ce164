"""reward_node latency and rate soak: sim_robot_node (free-running at the profile's 10 Hz, three 96 px
cameras) feeds reward_node over loopback DDS; this script listens to /robo_reward/reward and reports
the latency from image stamp to published reward (p50, p99) and the message rate per minute.

  .venv/bin/python scripts/bench_ros.py --model runs/bench_grm/grm_multiview/last --seconds 600 --out docs/results/bench_ros.json
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--task", default="pick-place")
    ap.add_argument("--out", type=Path, default=Path("docs/results/bench_ros.json"))
    args = ap.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", "42")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "ros_ws" / "src" / "robo_reward_ros"), str(ROOT)]))
    logs = Path("runs/bench_ros_logs")
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for module, params in (("sim_robot_node", {"task": args.task, "lockstep": "false"}),
                           ("reward_node", {"model": str(args.model), "sim_status": "true"})):
        cmd = [sys.executable, "-m", f"robo_reward_ros.{module}", "--ros-args"]
        for k, v in params.items():
            cmd += ["-p", f"{k}:={v}"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=open(logs / f"{module}.log", "w"), stderr=subprocess.STDOUT))
    import rclpy
    from sensor_msgs.msg import JointState

    from robo_reward.ros.qos import RELIABLE_QOS

    rclpy.init()
    node = rclpy.create_node("bench_ros")
    latency, arrivals = [], []
    node.create_subscription(JointState, "/robo_reward/reward",
                             lambda m: (latency.append(m.position[4]), arrivals.append(time.monotonic())), RELIABLE_QOS)
    try:
        warm = time.monotonic() + 60
        while not arrivals and time.monotonic() < warm:
            rclpy.spin_once(node, timeout_sec=0.05)
        if not arrivals:
            raise RuntimeError(f"no reward messages within 60 s: see {logs}")
        latency.clear()
        arrivals.clear()
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        for p in procs:
            p.terminate()
            p.wait(10)
    lat = np.array(latency)
    t = np.array(arrivals) - t0
    minutes = [int(((t >= m * 60) & (t < (m + 1) * 60)).sum()) for m in range(int(args.seconds // 60))]
    result = {
        "git_revision": git_revision(), "command": " ".join(sys.argv), "machine": platform.machine(), "cpus": os.cpu_count(),
        "model": str(args.model), "seconds": args.seconds, "messages": len(lat),
        "rate_hz": round(len(lat) / args.seconds, 3), "messages_per_minute": minutes,
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2), "p90": round(float(np.percentile(lat, 90)), 2),
                       "p99": round(float(np.percentile(lat, 99)), 2), "max": round(float(lat.max()), 2)},
    }
    write_json(args.out, result)
    print(result)


if __name__ == "__main__":
    main()
