"""Behaviour pins: a fixed-seed `rl`, `bc` and `collect` run must give what they gave when the pins were
made (tests/fixtures/pins.json, scripts/make_pins.py). A refactor that changes behaviour fails here; an
intended change regenerates the pins and says so in its commit. Sums are compared to 1e-6 (another CPU
may round differently); on a CPU capability other than the pins' the `rl` run's floats are left out (SAC
updates grow last-bit differences to 1e-2 in two episodes) and only its structure is compared.
`scripts/make_pins.py --check` compares bit for bit."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from make_pins import PINS, differences, machine, make_pins  # noqa: E402


def test_rl_bc_and_collect_behave_as_pinned():
    want, got = json.loads(PINS.read_text()), json.loads(json.dumps(make_pins()))
    same_kernels = want["machine"]["cpu_capability"] == machine()["cpu_capability"]
    diff = differences(want["collect"], got["collect"], "/collect", exact=False) + \
        differences(want["bc"], got["bc"], "/bc", exact=False) + \
        differences(want["rl"], got["rl"], "/rl", exact=False, rtol=1e-6 if same_kernels else None)
    assert not diff, "\n".join(diff[:20])


def test_pin_comparison_catches_changes_in_structure_when_floats_are_left_out():
    want = {"metrics": [{"episode": 0, "success": False, "return": 0.5}], "buffer": {"shape": [3, 2], "sum": 1.0}}
    assert differences(want, json.loads(json.dumps(want)), exact=False, rtol=None) == []
    drifted = {"metrics": [{"episode": 0, "success": False, "return": 0.51}], "buffer": {"shape": [3, 2], "sum": 1.2}}
    assert differences(want, drifted, exact=False, rtol=None) == []
    assert differences(want, drifted, exact=False) != []
    for changed in ({"metrics": [{"episode": 0, "success": True, "return": 0.5}], "buffer": want["buffer"]},
                    {"metrics": want["metrics"], "buffer": {"shape": [4, 2], "sum": 1.0}},
                    {"metrics": want["metrics"] * 2, "buffer": want["buffer"]}):
        assert differences(want, changed, exact=False, rtol=None) != []
