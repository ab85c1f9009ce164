"""The pure-Python ROS pieces: profiles, safety clamps, watchdog, approximate-time sync, image conversion."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from robo_reward.ros.convert import ImageError, compressed_to_rgb, image_to_rgb, rgb_to_image_fields
from robo_reward.ros.profiles import HARDWARE_DIR, ProfileError, load_profile
from robo_reward.ros.safety import SafetyFilter, Watchdog
from robo_reward.ros.sync import ApproximateTimeSync


@pytest.mark.parametrize("name", ["panda", "ur5e", "so101", "sim_panda"])
def test_shipped_profiles_load(name):
    p = load_profile(name)
    assert p.dof == len(p.joint_names) == len(p.lower) and np.all(p.lower < p.upper) and p.cameras


def test_profile_without_limits_is_refused(tmp_path):
    text = (HARDWARE_DIR / "so101.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  lower:", "  lowr:"))
    with pytest.raises(ProfileError, match=r"bad\.yaml: missing 'joints.lower'"):
        load_profile(bad)
    bad.write_text(text.replace("max_step: [0.12, 0.12, 0.12, 0.15, 0.2]", "max_step: [0.12, 0.12]"))
    with pytest.raises(ProfileError, match="max_step has 2 values for 5 joints"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="not found"):
        load_profile("no_such_robot")


def test_safety_filter_clamps_limits_and_steps():
    p = load_profile("panda")
    f = SafetyFilter(p)
    current = p.home.copy()
    out = f.clamp(current + 5.0, current)
    assert out.clamped and np.all(out.target <= p.upper) and np.all(out.target - current <= p.max_step + 1e-12)
    inside = f.clamp(current + 0.01, current)
    assert not inside.clamped and np.allclose(inside.target, current + 0.01)
    with pytest.raises(ValueError, match="has 7 joints"):
        f.clamp(np.zeros(6), current)
    with pytest.raises(ValueError, match="non-finite"):
        f.clamp(np.full(7, np.nan), current)


def test_watchdog():
    w = Watchdog(("front", "joints"), 0.5)
    assert w.stale(0.0) == ["front", "joints"]
    w.feed("front", 1.0)
    w.feed("joints", 1.0)
    assert w.stale(1.4) == []
    w.feed("joints", 1.6)
    assert w.stale(1.7) == ["front"]


def test_approximate_time_sync():
    s = ApproximateTimeSync(["a", "b", "c"], slop=0.02)
    assert s.add("a", 1.00, "a1") is None and s.add("b", 1.01, "b1") is None
    got = s.add("c", 1.015, "c1")
    assert got.items == {"a": "a1", "b": "b1", "c": "c1"} and got.stamp == 1.015
    assert s.add("a", 1.00, "old") is None  # older than an emitted set
    assert s.add("a", 1.10, "a2") is None
    assert s.add("b", 1.20, "b2") is None and s.add("c", 1.21, "c2") is None  # a2 is too far from them
    assert s.add("a", 1.205, "a3").items == {"a": "a3", "b": "b2", "c": "c2"}
    exact = ApproximateTimeSync(["x", "y"], slop=0.0)
    exact.add("x", 2.0, 1)
    assert exact.add("y", 2.001, 2) is None and exact.add("y", 2.0, 3).items == {"x": 1, "y": 3}


def test_image_conversion():
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    msg = SimpleNamespace(**rgb_to_image_fields(rgb))
    np.testing.assert_array_equal(image_to_rgb(msg, (6, 8)), rgb)
    bgr = SimpleNamespace(**{**rgb_to_image_fields(rgb[:, :, ::-1]), "encoding": "bgr8"})
    np.testing.assert_array_equal(image_to_rgb(bgr), rgb)
    padded = SimpleNamespace(height=6, width=8, encoding="rgb8", step=30,
                             data=np.pad(rgb.reshape(6, 24), ((0, 0), (0, 6))).tobytes())
    np.testing.assert_array_equal(image_to_rgb(padded), rgb)
    with pytest.raises(ImageError, match="/cam: image encoding '16UC1' is not supported"):
        image_to_rgb(SimpleNamespace(**{**rgb_to_image_fields(rgb), "encoding": "16UC1"}), topic="/cam")
    with pytest.raises(ImageError, match="/cam: image is 6x8, the profile expects 96x96"):
        image_to_rgb(msg, (96, 96), topic="/cam")
    ok, png = cv2.imencode(".png", rgb[:, :, ::-1])
    np.testing.assert_array_equal(compressed_to_rgb(SimpleNamespace(format="png", data=png.tobytes())), rgb)
    with pytest.raises(ImageError, match="does not decode"):
        compressed_to_rgb(SimpleNamespace(format="jpeg", data=b"nope"))
