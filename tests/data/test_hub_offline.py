"""`hf:org/name` with the network off (HF_HUB_OFFLINE=1, set by conftest): a dataset in lerobot's local cache
loads through lerobot, and one that is not cached is named with why."""

import os
import shutil
import uuid
from pathlib import Path

from robo_reward.cli import main


def test_a_cached_hub_dataset_loads_offline_and_a_missing_one_is_named(mixed_dataset, tmp_path, capsys):
    from lerobot.utils.constants import HF_LEROBOT_HOME

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    repo = f"robo-reward-test/cached-{uuid.uuid4().hex[:8]}"
    cached = Path(HF_LEROBOT_HOME) / repo
    shutil.copytree(mixed_dataset[0], cached)
    try:
        assert main(["inspect", "--data", f"hf:{repo}", "--out", str(tmp_path / "inspect")]) == 0
        assert f"{cached}: 8 episodes" in capsys.readouterr().out  # lerobot's cache folder, read without the network
        assert main(["inspect", "--data", "hf:robo-reward-test/not-cached"]) == 2
        err = capsys.readouterr().err
        assert "hub dataset 'robo-reward-test/not-cached' could not be loaded" in err and "offline" in err.lower()
    finally:
        shutil.rmtree(cached, ignore_errors=True)
