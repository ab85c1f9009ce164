"""HDF5 import/export (robomimic and ALOHA layouts), multi-dataset training with camera maps,
hub ids, and `inspect`. Fixtures are made here from the collected pick-place dataset."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from robo_reward.cli import main
from robo_reward.data.hdf5_io import write_aloha
from robo_reward.data.importer import ExportConfig, ImportConfig, equal_split, export_hdf5, import_hdf5
from robo_reward.data.inspection import InspectConfig, inspect_dataset
from robo_reward.data.lerobot_io import DatasetError, load_episode, read_info
from robo_reward.data.sources import resolve_dataset
from robo_reward.reward.bank import EpisodeBank, PairSampler, SamplerConfig

TASK = "pick up the cube and place it in the bin"
EPISODES = (0, 1, 2)


def _no_partials(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def robomimic_file(mixed_dataset, tmp_path_factory):
    root, _ = mixed_dataset
    out = tmp_path_factory.mktemp("h5") / "pp.hdf5"
    summary = export_hdf5(ExportConfig(data=root, out=out, episodes=tuple(map(str, EPISODES))), progress=False)
    assert summary["episodes"] == len(EPISODES)
    return out


def aloha_sources(root: Path) -> tuple[int, int]:
    """The fixture episodes written to the ALOHA files: the first failure or partial, then the first success."""
    outcomes = {a.episode_index: a.outcome for a in read_info(root).episodes}
    return min(i for i, o in outcomes.items() if o != "success"), min(i for i, o in outcomes.items() if o == "success")


@pytest.fixture(scope="module")
def aloha_dir(mixed_dataset, tmp_path_factory):
    """ALOHA layout (JPEG-compressed, two cameras with ALOHA's names, 4:3 frames) from real sim frames: a failure and a
    success (an imported file knows a task's subtasks from the spans it holds, and only a success enters the last)."""
    root, _ = mixed_dataset

    def episodes():
        for i in aloha_sources(root):
            ep = load_episode(root, i)
            resize = lambda v: np.stack([cv2.resize(f, (80, 60), interpolation=cv2.INTER_AREA) for f in v])  # noqa: E731
            yield replace(ep, images={"cam_high": resize(ep.images["front"]), "cam_left_wrist": resize(ep.images["wrist"])})

    out = tmp_path_factory.mktemp("aloha") / "episodes"
    assert write_aloha(out, episodes(), compress=True) == 2
    return out


def test_robomimic_round_trip_keeps_frames_actions_and_annotations(mixed_dataset, robomimic_file, tmp_path):
    root, _ = mixed_dataset
    with h5py.File(robomimic_file) as f:  # robomimic's layout, readable without robo_reward
        assert sorted(f["data"].keys()) == ["demo_0", "demo_1", "demo_2"]
        assert f["data/demo_0/obs/front_image"].dtype == np.uint8 and f["data/demo_0/actions"].shape[1] == 4
        assert f["data"].attrs["total"] == sum(f[f"data/demo_{i}"].attrs["num_samples"] for i in EPISODES)
    out = tmp_path / "back"
    summary = import_hdf5(ImportConfig(input=robomimic_file, layout="robomimic", out=out), progress=False)
    assert summary["annotation_source"] == "annotation stored in the HDF5 file"
    src, back = read_info(root), read_info(out)
    assert back.subtasks == src.subtasks and back.tasks == src.tasks and back.fps == src.fps
    assert back.episodes == src.episodes[: len(EPISODES)]  # spans, outcome, mode, seed
    for i in EPISODES:
        a, b = load_episode(root, i), load_episode(out, i)
        np.testing.assert_array_equal(a.states, b.states)
        np.testing.assert_array_equal(a.actions, b.actions)
        for cam in a.images:  # one more lossy video generation: close, not bit-exact
            assert np.abs(a.images[cam].astype(float) - b.images[cam]).mean() < 4.0
    names = json.loads((out / "meta" / "info.json").read_text())["features"]["observation.state"]["names"]
    assert names[0] == "joint1.pos"
    assert "robomimic layout" in (out / "README.md").read_text()


def test_aloha_compressed_fixture_imports_with_equal_split(aloha_dir, mixed_dataset, tmp_path):
    out = tmp_path / "aloha-ds"
    assert main(["import-hdf5", "--in", str(aloha_dir), "--layout", "aloha", "--out", str(out), "--task", TASK,
                 "--fps", "10", "--subtasks", "reach,grasp,lift,place"]) == 0
    info = read_info(out)
    assert info.cameras == ("cam_high", "cam_left_wrist") and info.frame_shape["cam_high"] == (60, 80, 3)
    assert info.fps == 10 and len(info.episodes) == 2
    for ann in info.episodes:
        assert ann.subtasks == equal_split(ann.length, ("reach", "grasp", "lift", "place"), "x")
        assert ann.outcome == "success"
    assert "equal split into reach, grasp, lift, place" in (out / "README.md").read_text()
    src = load_episode(mixed_dataset[0], aloha_sources(mixed_dataset[0])[1])
    got = load_episode(out, 1)
    np.testing.assert_array_equal(got.actions, src.actions)
    want = np.stack([cv2.resize(f, (80, 60), interpolation=cv2.INTER_AREA) for f in src.images["front"]])
    assert np.abs(got.images["cam_high"].astype(float) - want).mean() < 6.0  # JPEG + video


def test_annotation_json_and_its_errors(aloha_dir, tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"subtasks": ["approach", "finish"], "episodes": {
        "episode_0": {"subtasks": [{"name": "approach", "start": 0, "end": 9}, {"name": "finish", "start": 10, "end": 30}],
                      "outcome": "partial"},
        "1": {"subtasks": [{"name": "approach", "start": 0, "end": 5}], "outcome": "failure"}}}))
    with h5py.File(aloha_dir / "episode_0.hdf5") as f:
        length0 = f["action"].shape[0]
    ann.write_text(ann.read_text().replace('"end": 30', f'"end": {length0 - 1}'))
    out = tmp_path / "ds"
    import_hdf5(ImportConfig(input=aloha_dir, layout="aloha", out=out, annotations=ann, task=TASK), progress=False)
    info = read_info(out)
    assert info.subtasks == ("approach", "finish") and [a.outcome for a in info.episodes] == ["partial", "failure"]

    ann.write_text(ann.read_text().replace(f'"end": {length0 - 1}', f'"end": {length0 + 5}'))
    with pytest.raises(DatasetError, match=r"ann\.json: episode episode_0: subtask 'finish' spans frames .* outside"):
        import_hdf5(ImportConfig(input=aloha_dir, layout="aloha", out=tmp_path / "bad", annotations=ann, task=TASK),
                    progress=False)
    assert not (tmp_path / "bad").exists() and not _no_partials(tmp_path)


def test_bad_hdf5_inputs_fail_clearly_and_write_nothing(robomimic_file, tmp_path):
    # truncated file
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(robomimic_file.read_bytes()[: robomimic_file.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"cut\.hdf5: not a readable HDF5 file"):
        import_hdf5(ImportConfig(input=cut, layout="robomimic", out=tmp_path / "o1"), progress=False)
    # missing image key
    with pytest.raises(DatasetError, match=r"episode demo_0: image key for camera\(s\) \['top'\] is missing"):
        import_hdf5(ImportConfig(input=robomimic_file, layout="robomimic", out=tmp_path / "o2", cameras=("front", "top")),
                    progress=False)
    # actions and frames of different lengths
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(robomimic_file.read_bytes())
    with h5py.File(bad, "a") as f:
        acts = f["data/demo_1/actions"][:-3]
        del f["data/demo_1/actions"]
        f["data/demo_1/actions"] = acts
    with pytest.raises(DatasetError, match=r"bad\.hdf5: episode demo_1: '/data/demo_1/obs/\w+' has \d+ rows but 'actions' has"):
        import_hdf5(ImportConfig(input=bad, layout="robomimic", out=tmp_path / "o3"), progress=False)
    # an ALOHA file read as robomimic
    with pytest.raises(DatasetError, match="no 'data' group: not robomimic's layout"):
        import_hdf5(ImportConfig(input=_aloha_like(tmp_path), layout="robomimic", out=tmp_path / "o4"), progress=False)
    for name in ("o1", "o2", "o3", "o4"):
        assert not (tmp_path / name).exists()
    assert not _no_partials(tmp_path)


def _aloha_like(tmp_path: Path) -> Path:
    path = tmp_path / "episode_0.hdf5"
    with h5py.File(path, "w") as f:
        f["action"] = np.zeros((3, 2), np.float32)
    return path


def test_two_datasets_with_different_cameras_train_and_evaluate(mixed_dataset, aloha_dir, tmp_path, capsys):
    aloha = tmp_path / "aloha-ds"
    import_hdf5(ImportConfig(input=aloha_dir, layout="aloha", out=aloha, task=TASK, fps=10), progress=False)
    cmap = {"cam_high": "front", "cam_left_wrist": "wrist"}
    bank = EpisodeBank([mixed_dataset[0], aloha], ("front", "side", "wrist"), progress=False, camera_map=cmap, image_size=48)
    sims = [e for e in bank.episodes if e.source == 0]
    alohas = [e for e in bank.episodes if e.source == 1]
    assert len(alohas) == 2 and all(e.frames.shape[1:] == (3, 48, 48, 3) for e in bank.episodes)
    assert alohas[0].views.tolist() == [True, False, True] and sims[0].views.all()
    assert not alohas[0].frames[:, 1].any()  # the missing side view is black ...
    text = np.zeros((len(bank.tasks), 384), np.float32)
    batch = PairSampler(bank, text, SamplerConfig(batch_size=64, dataset_weights=(0.0, 1.0))).sample()
    # ... and always masked; queries come only from the ALOHA set (references may come from either: same task)
    assert not batch.view_mask[batch.q, 1].any() and batch.view_mask[batch.q][:, [0, 2]].any()
    with pytest.raises(ValueError, match="need 2 non-negative numbers"):
        PairSampler(bank, text, SamplerConfig(dataset_weights=(1.0,)))

    run = tmp_path / "run"
    assert main(["train-reward", "--data", str(mixed_dataset[0]), "--data", str(aloha), "--camera-map",
                 "cam_high=front,cam_left_wrist=wrist", "--data-weights", "1,1", "--steps", "3", "--batch-size", "4",
                 "--image-size", "32", "--out", str(run)]) == 0
    assert json.loads((run / "run.json").read_text())["episodes"] == len(bank.episodes)
    ev = tmp_path / "eval"
    assert main(["eval-reward", "--model", str(run / "last"), "--data", str(aloha), "--camera-map",
                 "cam_high=front,cam_left_wrist=wrist", "--out", str(ev), "--plots", "1", "--videos", "0"]) == 0
    assert json.loads((ev / "metrics.json").read_text())["metrics"]["episodes"] == 2
    # the sim's cameras without the map: the dataset feeds none of them, refused, naming what it has
    capsys.readouterr()
    assert main(["train-reward", "--data", str(aloha), "--cameras", "front,side,wrist", "--steps", "1",
                 "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "none feeds ['front', 'side', 'wrist']" in err and "cam_high" in err and "--camera-map" in err


def test_hub_id_without_hub_access_names_the_id():
    with pytest.raises(DatasetError, match="hub dataset 'someorg/no-such-set' could not be loaded"):
        resolve_dataset("hf:someorg/no-such-set")
    with pytest.raises(DatasetError, match="hf:<org>/<name>"):
        resolve_dataset("hf:justaname")


def test_inspect_summarises_and_draws_a_contact_sheet(mixed_dataset, tmp_path):
    root, collect_summary = mixed_dataset
    s = inspect_dataset(InspectConfig(data=str(root), out=tmp_path, sheet_episodes=3, sheet_frames=4))
    info = read_info(root)
    assert s["episodes"] == len(info.episodes) and s["outcomes"] == collect_summary["outcomes"]
    assert s["frames"] == sum(a.length for a in info.episodes)
    assert s["subtask_coverage"]["reach"]["episodes"] == len(info.episodes)
    assert s["cameras"] == {"front": [96, 96, 3], "side": [96, 96, 3], "wrist": [96, 96, 3]}
    sheet = cv2.imread(str(tmp_path / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 4 * 96 and sheet.shape[0] > 3 * 3 * 96
    assert json.loads((tmp_path / "inspect.json").read_text())["summary"]["episodes"] == len(info.episodes)
