"""The robot's computer as the actor end of `robo-reward rl --dist.actors` (docs/ARCHITECTURE.md): it joins the Ray
cluster whose head runs on the learner's GPU machine, offering the `robot` resource that the run's actors ask for
(`--dist.actor-resource robot`), so the environment loop, the reward model and the arm's topics stay on this
computer while the learner trains on the GPU. The arm's driver and cameras run beside this, as for robot.launch.py.

  on the GPU machine:  ray start --head --port 6379
  on the robot:        ros2 launch robo_reward_ros rl_actor.launch.py head:=GPU_HOST:6379
  anywhere in the cluster:
      robo-reward rl --task pick-place --out runs/real --env ros --ros-real --profile panda --reward grm:DIR/last \\
          --demos DIR --dist.actors 1 --dist.address auto --dist.actor-resource robot --device cuda
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("head", description="HOST:PORT of the Ray head (the learner's machine)"),
        DeclareLaunchArgument("resource", default_value="robot", description="the Ray resource the actors ask for"),
        ExecuteProcess(cmd=["ray", "start", "--block", "--address", LaunchConfiguration("head"),
                            "--resources", ['{"', LaunchConfiguration("resource"), '": 1}']], output="screen"),
    ])
