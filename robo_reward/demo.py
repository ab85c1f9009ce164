"""`make demo`: the embedded default run, end to end over whatever the stack has so far."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.config import write_json


@dataclass(frozen=True)
class DemoConfig:
    out: Path = field(default=Path("runs/demo"), metadata={"help": "output folder (replaced on each run)"})
    task: str = field(default="pick-place", metadata={"help": "task to run the demo on"})
    episodes: int = field(default=12, metadata={"help": "episodes to collect for each dataset"})


def run_demo(cfg: DemoConfig) -> dict:
    from robo_reward.data.collect import CollectConfig, collect
    from robo_reward.data.lerobot_io import load_episode, read_info
    from robo_reward.viz.video import episode_frames, write_video

    cfg.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"task": cfg.task}
    for quality in ("expert", "mixed"):
        data = cfg.out / f"{cfg.task}-{quality}"
        seed = 0 if quality == "expert" else 10_000
        summary = collect(CollectConfig(task=cfg.task, out=data, episodes=cfg.episodes, quality=quality,
                                        seed=seed, overwrite=True))
        info = read_info(data)
        videos = []
        for ep in range(min(2, len(info.episodes))):
            episode = load_episode(data, ep)
            videos.append(str(write_video(episode_frames(episode, info.subtasks), cfg.out / f"{quality}_ep{ep}.mp4", info.fps)))
        report[quality] = {"dataset": str(data), "outcomes": summary["outcomes"], "modes": summary["modes"],
                           "episodes_per_minute": summary["episodes_per_minute"], "videos": videos}
    write_json(cfg.out / "demo_report.json", report)
    print(json.dumps(report, indent=2))
    return report
