"""HDF5 import speed (frames/s, end to end: HDF5 read + decode + LeRobot video encoding + metadata).

Collects sim episodes, exports them to robomimic and ALOHA (raw and JPEG-compressed) layouts, then
times `import-hdf5` on each; a second ALOHA set is upscaled to ALOHA's real 480x640 frames.

  .venv/bin/python scripts/bench_import.py --episodes 10 --out docs/results/bench_import.json
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.collect import CollectConfig, collect  # noqa: E402
from robo_reward.data.hdf5_io import write_aloha  # noqa: E402
from robo_reward.data.importer import ExportConfig, ImportConfig, export_hdf5, import_hdf5  # noqa: E402
from robo_reward.data.lerobot_io import load_episode, read_info  # noqa: E402


def _timed_import(cfg: ImportConfig) -> dict:
    t0 = time.perf_counter()
    summary = import_hdf5(cfg, progress=False)
    wall = time.perf_counter() - t0
    return {"frames": summary["frames"], "seconds": round(wall, 2), "frames_per_s": round(summary["frames"] / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench_import"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/bench_import.json"))
    args = ap.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    src = work / "src"
    collect(CollectConfig(task="pick-place", out=src, episodes=args.episodes, quality="mixed", seed=500), progress=False)
    info = read_info(src)
    task = info.tasks[0]
    result = {"git_revision": git_revision(), "command": " ".join(sys.argv), "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "episodes": args.episodes, "runs": {}}

    export_hdf5(ExportConfig(data=src, out=work / "pp.hdf5"), progress=False)
    result["runs"]["robomimic 3x96x96"] = _timed_import(
        ImportConfig(input=work / "pp.hdf5", layout="robomimic", out=work / "imp_robomimic"))
    for compress in (False, True):
        export_hdf5(ExportConfig(data=src, out=work / f"aloha_{compress}", layout="aloha", compress=compress), progress=False)
        result["runs"][f"aloha 3x96x96 {'jpeg' if compress else 'raw'}"] = _timed_import(
            ImportConfig(input=work / f"aloha_{compress}", layout="aloha", out=work / f"imp_aloha_{compress}", task=task, fps=10))

    def big():
        for a in info.episodes:
            ep = load_episode(src, a.episode_index)
            up = lambda v: np.stack([cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) for f in v])  # noqa: E731
            yield replace(ep, images={"cam_high": up(ep.images["front"]), "cam_left_wrist": up(ep.images["wrist"])})

    write_aloha(work / "aloha_big", big(), compress=True)
    result["runs"]["aloha 2x480x640 jpeg"] = _timed_import(
        ImportConfig(input=work / "aloha_big", layout="aloha", out=work / "imp_big", task=task, fps=10))
    write_json(args.out, result)
    print(result)


if __name__ == "__main__":
    main()
