"""ROS 2 side of robo_reward: hardware profiles, safety, message conversion and time sync (pure
Python, no rclpy), plus the rclpy-facing pieces (`bridge`, `env`) the nodes in ros_ws/ build on."""
