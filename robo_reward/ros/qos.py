"""QoS profiles (FACTS: ros2_controllers subscribe RELIABLE; cameras use the sensor-data profile)."""

from __future__ import annotations

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

SENSOR_QOS = qos_profile_sensor_data  # best effort, keep last 5: accepts reliable and best-effort publishers
RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
