"""Behaviour pins: a fixed-seed `rl`, `bc` and `collect` run must give what they gave when the pins were
made (tests/fixtures/pins.json, scripts/make_pins.py). A refactor that changes behaviour fails here; an
intended change regenerates the pins and says so in its commit. Sums are compared to 1e-6 (another CPU
may round differently); `scripts/make_pins.py --check` compares bit for bit."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from make_pins import PINS, differences, make_pins  # noqa: E402


def test_rl_bc_and_collect_behave_as_pinned():
    got = json.loads(json.dumps(make_pins()))
    diff = differences(json.loads(PINS.read_text()), got, exact=False)
    assert not diff, "\n".join(diff[:20])
