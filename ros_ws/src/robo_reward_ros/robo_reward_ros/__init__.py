"""Thin rclpy nodes over robo_reward: no learning logic lives here."""
