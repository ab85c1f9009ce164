"""robo_reward: multi-view progress reward models, shaped rewards and policies for robot manipulation."""

__version__ = "0.1.0"
