"""A real arm: the arm's own driver (franka_ros2, ur_robot_driver, so101 ros2_control) and cameras
run beside this; the profile names their topics, limits and rates.

  ros2 launch robo_reward_ros robot.launch.py profile:=panda model:=/path/to/run/last
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("robo_reward_ros"), "config", "robot.yaml")
    profile = LaunchConfiguration("profile")
    return LaunchDescription([
        DeclareLaunchArgument("profile", description="hardware profile: panda | ur5e | so101 | a path to a YAML"),
        DeclareLaunchArgument("model", description="GRM checkpoint folder"),
        DeclareLaunchArgument("policy", default_value="hold",
                              description="rl:RUN_DIR | bc:POLICY_DIR (through the IK bridge) | replay:FILE.npy | hold"),
        Node(package="robo_reward_ros", executable="reward_node", name="reward_node",
             parameters=[params, {"profile": profile, "model": LaunchConfiguration("model")}]),
        Node(package="robo_reward_ros", executable="policy_node", name="policy_node",
             parameters=[params, {"profile": profile, "policy": LaunchConfiguration("policy")}]),
    ])
