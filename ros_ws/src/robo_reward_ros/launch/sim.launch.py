"""The whole ROS path without hardware: the MuJoCo task as a robot, the reward node and the policy node.

  ros2 launch robo_reward_ros sim.launch.py model:=/path/to/run/last task:=pick-place profile:=sim_panda
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("robo_reward_ros"), "config", "sim.yaml")
    profile = LaunchConfiguration("profile")
    return LaunchDescription([
        DeclareLaunchArgument("profile", default_value="sim_panda", description="hardware profile (hardware/<name>.yaml)"),
        DeclareLaunchArgument("task", default_value="pick-place", description="suite task (robo-reward tasks)"),
        DeclareLaunchArgument("model", description="GRM checkpoint folder"),
        Node(package="robo_reward_ros", executable="sim_robot_node", name="sim_robot_node",
             parameters=[params, {"profile": profile, "task": LaunchConfiguration("task")}]),
        Node(package="robo_reward_ros", executable="reward_node", name="reward_node",
             parameters=[params, {"profile": profile, "model": LaunchConfiguration("model")}]),
        Node(package="robo_reward_ros", executable="policy_node", name="policy_node",
             parameters=[params, {"profile": profile}]),
    ])
