"""Helpers the ROS tests import (conftest holds the fixtures)."""

import time
from pathlib import Path

import rclpy

ROOT = Path(__file__).resolve().parents[2]
ROS_PKG = ROOT / "ros_ws" / "src" / "robo_reward_ros"


def spin_until(node, done, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        rclpy.spin_once(node, timeout_sec=0.02)
    return True
