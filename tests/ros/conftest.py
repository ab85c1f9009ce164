"""Real rclpy nodes over loopback DDS: each test gets its own ROS_DOMAIN_ID; nodes run as subprocesses
(`python -m robo_reward_ros.<node>`) with the ROS package on PYTHONPATH."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rclpy
from rosutil import ROOT, ROS_PKG

_domains = itertools.count(60 + os.getpid() % 50)


class Nodes:
    def __init__(self, env: dict, logdir: Path) -> None:
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self, module: str, **params) -> subprocess.Popen:
        args = [sys.executable, "-m", f"robo_reward_ros.{module}", "--ros-args"]
        for k, v in params.items():
            args += ["-p", f"{k}:={str(v).lower() if isinstance(v, bool) else v}"]
        path = self.logdir / f"{module}-{len(self.procs)}.log"  # one log per process
        log = open(path, "w")  # noqa: SIM115 (closed at teardown with the process)
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = path
        self.procs.append((proc, log))
        return proc

    def log(self, proc) -> str:
        return Path(proc.log_path).read_text()

    def stop(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


@pytest.fixture
def ros(tmp_path, monkeypatch):
    """A fresh DDS domain, rclpy initialised in this process, and a node launcher."""
    domain = str(next(_domains))
    monkeypatch.setenv("ROS_DOMAIN_ID", domain)
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROS_PKG), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    rclpy.init()
    nodes = Nodes(env, tmp_path)
    try:
        yield nodes
    finally:
        nodes.stop()
        if rclpy.ok():
            rclpy.shutdown()
