"""What every node shares: QoS profiles and the run-a-node main."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from robo_reward.ros.qos import RELIABLE_QOS, SENSOR_QOS

__all__ = ["RELIABLE_QOS", "SENSOR_QOS", "spin"]


def spin(node_cls) -> None:
    """rclpy.init, build the node (a refusal to start exits with status 1 and its log line), spin."""
    rclpy.init(args=sys.argv)
    node = None
    try:
        try:
            node = node_cls()
        except (ValueError, KeyError, FileNotFoundError) as exc:
            print(f"[{node_cls.__name__}] refusing to start: {exc}", file=sys.stderr, flush=True)
            sys.exit(1)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
