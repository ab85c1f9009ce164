"""BoxSpec helpers shared by the RL loop and BC."""

import numpy as np

from robo_reward.types import BoxSpec


def test_policy_index_drops_joint_velocities_unless_asked():
    names = ("joint1.pos", "joint2.pos", "joint1.vel", "joint2.vel", "gripper.width")
    spec = BoxSpec(np.zeros(5), np.ones(5), names)
    assert spec.policy_index().tolist() == [0, 1, 4]
    assert spec.policy_index(velocities=True).tolist() == [0, 1, 2, 3, 4]
    assert BoxSpec(np.zeros(3), np.ones(3)).policy_index().tolist() == [0, 1, 2]  # unnamed: keep everything


def test_to_unit_maps_bounds_to_minus_one_and_one_and_from_unit_inverts_it():
    spec = BoxSpec(np.array([0.0, -2.0]), np.array([4.0, 2.0]))
    x = np.array([[0.0, -2.0], [4.0, 2.0], [2.0, 0.0], [1.0, 0.5]])
    assert np.allclose(spec.to_unit(x[:3]), [[-1, -1], [1, 1], [0, 0]])
    assert np.allclose(spec.from_unit(spec.to_unit(x)), x)
