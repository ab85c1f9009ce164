"""ament_python package: `colcon build` in ros_ws/, or `pip install ros_ws/src/robo_reward_ros` next to robo_reward
(then run nodes with AMENT_PREFIX_PATH=$VIRTUAL_ENV). The robo_reward package itself is a pip dependency."""

from glob import glob

from setuptools import setup

PACKAGE = "robo_reward_ros"
NODES = ("sim_robot_node", "reward_node", "policy_node")

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ROS 2 nodes over robo_reward",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{n} = {PACKAGE}.{n}:main" for n in NODES]},
)
