"""Actors and one learner in separate processes, on one machine or several, on Ray (the engine RLlib runs on):
`rl --dist.actors N`. The learner (on the GPU machine) owns SAC, the replay buffers and the checkpoint; it trains
as transitions arrive, at the run's update-to-data ratio, and publishes a new weights version every
`--dist.publish-every` updates. Each actor (the robot's computer, or a simulator process) runs the unchanged
environment loop with its own env and reward model on the latest weights, and sends each episode's transitions
(with its interventions and, after a success, its own steps as demonstrations); the learner re-clones the frozen
clones on them on the single-process run's schedule (`loop.reclone_steps`).

Nothing is lost when the learner goes away: it is a Ray actor that Ray restarts from its last checkpoint (where
a machine can host it again), each actor keeps every episode the learner has not yet checkpointed and sends it
again, and the learner drops what it already has (episodes are numbered per actor). While its learner is away an
actor runs no new episode: the arm holds. Why Ray and not torch.distributed.rpc: docs/ARCHITECTURE.md."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robo_reward.config import config_from_dict, to_jsonable

RETRY_S = 1.0  # between tries to reach a learner that went away
LEARNER_NAME = "robo_reward_learner"  # the learner's Ray name (ray.get_actor finds it)


def episode_slots(episodes: int, actors: int, actor: int) -> list[int]:
    """Actor k's episodes of the run (k, k + N, ...): every episode index (and so every seed) runs once."""
    return list(range(actor, episodes, actors))


class LearnerService:
    """The learner's side (a Ray actor: `learner_class()`): takes episodes, trains, publishes weights, checkpoints."""

    def __init__(self, cfg_record: dict) -> None:
        from robo_reward.rl.config import RLConfig
        from robo_reward.rl.loop import set_up

        import ray

        cfg = config_from_dict(RLConfig, cfg_record, "rl config")
        # a learner Ray restarts continues from its checkpoint (the first start of a new run writes one)
        restarted = ray.get_runtime_context().was_current_actor_reconstructed
        self.run = run = set_up(dataclasses.replace(cfg, resume=cfg.resume or restarted))
        self.cfg, self.lock = run.cfg, threading.Lock()
        self.received: dict[str, int] = dict(run.extra.get("received", {}))  # per actor: the last episode number taken
        self.acked = dict(self.received)  # ... and the last one inside the checkpoint
        self.episodes, self.steps = run.at.episode, run.at.total_steps
        self.updates, self.version, self.weights_at = 0, 0, time.time()
        self.published = run.learner.acting_state()
        self.since_checkpoint = 0
        self.rng = run.at.rng
        self.metrics: dict[str, float] = {}
        # cloning steps owed to the frozen clones (pushes decide, the training thread clones); kept in the checkpoint
        self.reclone_owed: int = run.extra.get("reclone_owed", 0)
        self.reclones: dict[str, float] = {}

    # ------------------------------------------------------------------ what actors call
    def spec(self) -> dict:
        r = self.run
        return {"config": to_jsonable(self.cfg), "obs_dim": r.learner.obs_dim, "act_dim": r.learner.act_dim,
                "pixel_shape": r.learner.pixel_shape}

    def weights(self, have: int) -> tuple[int, float, dict] | None:
        """(version, publish time, acting state) when newer than `have`."""
        with self.lock:
            return None if have == self.version else (self.version, self.weights_at, self.published)

    def push(self, actor: str, number: int, online: dict, demos: dict | None, row: dict) -> dict:
        """One episode of `actor` (its `number`-th): stored unless already taken; returns the last of its episodes
        inside a checkpoint (the actor may forget those) and whether the run has all its episodes."""
        with self.lock:
            if number > self.received.get(actor, -1):
                from robo_reward.rl.loop import reclone_steps

                r = self.run
                r.online.extend(online)
                if demos is not None and len(demos["reward"]):
                    r.demos.extend(demos)
                self.steps += len(online["reward"])
                full = {"episode": self.episodes, "actor": actor, "actor_episode": number, **row, "total_steps": self.steps,
                        "learner_updates": self.updates, "received_at": time.time(),
                        **{f"learner/{k}": v for k, v in {**self.metrics, **self.reclones}.items()}}
                self.reclone_owed = max(self.reclone_owed, reclone_steps(self.cfg, r.learner, self.episodes, full, r.out / "metrics.jsonl"))
                with (r.out / "metrics.jsonl").open("a") as f:
                    f.write(json.dumps(full) + "\n")
                self.episodes += 1
                self.received[actor] = number
                self.since_checkpoint += 1
            return {"acked": self.acked.get(actor, -1), "done": self.episodes >= self.cfg.episodes, "version": self.version}

    def pid(self) -> int:
        return os.getpid()

    # ------------------------------------------------------------------ the learner's own work
    def train(self) -> dict:
        """Updates while episodes arrive: `utd` per stored transition after the warm-up, a weights version every
        `publish_every`; returns when the run has all its episodes and the updates they are owed."""
        from robo_reward.rl.replay import sample_mixed

        r, cfg = self.run, self.cfg
        t0, start = time.perf_counter(), self.updates
        while True:
            # the lock guards the buffers and counters only: pushes wait for a batch to be drawn, never for an update;
            # the learner's state changes in this thread alone, so checkpoints and published weights are consistent
            with self.lock:
                owed = cfg.utd * max(0, self.steps - cfg.warmup_steps)
                done = self.episodes >= cfg.episodes
                if self.since_checkpoint >= cfg.checkpoint_every or (done and self.since_checkpoint):
                    self._checkpoint()
                batch = sample_mixed(r.online, r.demos, cfg.batch_size, self.rng, r.learner.device) if self.updates < owed else None
                owed_clone, self.reclone_owed = self.reclone_owed, 0
                demos = _demo_copy(r.demos) if owed_clone else None
            if owed_clone:
                from robo_reward.rl.loop import reclone

                mse = reclone(r.learner, demos, owed_clone, cfg.batch_size)
                self.reclones = {"reclones": self.reclones.get("reclones", 0) + 1, "reclone_mse": mse}
                self._publish()
            if batch is None:
                if done:
                    break
                time.sleep(0.005)
                continue
            self.metrics = r.learner.update(batch)
            self.updates += 1
            if self.updates % cfg.dist.publish_every == 0:
                self._publish()
        seconds = time.perf_counter() - t0
        return {"updates": self.updates - start, "updates_per_s": (self.updates - start) / max(seconds, 1e-9),
                "reclones": self.reclones.get("reclones", 0)}

    def _publish(self) -> None:
        state = self.run.learner.acting_state()
        with self.lock:
            self.published, self.version, self.weights_at = state, self.version + 1, time.time()

    def finish(self) -> dict:
        """The last checkpoint, the evaluation, summary.json."""
        from robo_reward.rl.loop import evaluate_run, evaluated_after
        from robo_reward.rl.summary import summarize_run

        with self.lock:
            self._checkpoint()
        if self.cfg.eval_episodes and evaluated_after(self.run.out) != self.cfg.episodes:
            evaluate_run(self.run)
        return summarize_run(self.run.out)

    def _checkpoint(self) -> None:
        from robo_reward.rl.checkpoint import Progress, save_checkpoint

        r = self.run
        save_checkpoint(r.ckpt, r.learner, r.online, r.demos, Progress(self.episodes, self.steps, self.rng),
                        extra={"received": dict(self.received), "reclone_owed": self.reclone_owed})
        self.acked, self.since_checkpoint = dict(self.received), 0


def _demo_copy(demos):
    """The demonstration rows as they are now (pushes may append while the clones train on them)."""
    from robo_reward.rl.replay import ReplayBuffer

    copy = ReplayBuffer(max(demos.size, 1), demos.obs.shape[1], demos.action.shape[1], demos.pixel_shape)
    copy.extend(demos.take(np.arange(demos.size)))
    return copy


def learner_class(gpus: float):
    import ray

    # max_restarts: Ray brings a learner back (from its checkpoint) when its process or machine goes away
    return ray.remote(num_gpus=gpus, max_restarts=-1, max_task_retries=0, max_concurrency=4)(LearnerService)


@dataclass
class Pending:
    """An episode the learner has not yet checkpointed: sent again after a learner restart."""

    number: int
    online: dict
    demos: dict | None
    row: dict


def actor_main(learner, cfg_record: dict, actor: int) -> dict:
    """One actor: the environment loop on the learner's latest weights, each episode sent to it (Ray task body)."""
    import torch

    from robo_reward.environment_loop import EnvironmentLoop
    from robo_reward.envs.registry import task_text
    from robo_reward.reward.online import OnlineReward
    from robo_reward.rl.actor import SACActor
    from robo_reward.rl.config import RLConfig, make_rl_env, policy_pipeline, reward_config
    from robo_reward.rl.intervention import intervened, make_intervention
    from robo_reward.rl.loop import episode_row
    from robo_reward.rl.replay import ReplayBuffer
    from robo_reward.rl.sac import SAC
    from robo_reward.shaping import anneal_weight

    torch.set_num_threads(1)
    cfg = config_from_dict(RLConfig, cfg_record, "rl config")
    spec = _call(lambda: learner.spec.remote(), cfg, "the learner's spec")
    reward = OnlineReward(reward_config(cfg), task_text(cfg.task), "cpu")
    env = make_rl_env(cfg, reward.cameras)
    pipeline = policy_pipeline(cfg, env.spec.state.policy_index(cfg.velocities))
    shape = None if spec["pixel_shape"] is None else tuple(spec["pixel_shape"])
    policy = SAC(spec["obs_dim"], spec["act_dim"], cfg.sac, torch.device("cpu"), cfg.seed + 1 + actor, shape)
    online = ReplayBuffer(env.spec.max_steps + 1, spec["obs_dim"], spec["act_dim"], shape)
    # this episode's demonstrations: the person's steps, and the policy's own after a success
    demos = ReplayBuffer(env.spec.max_steps + 1, spec["obs_dim"], spec["act_dim"], shape) if cfg.intervene.on or cfg.successes.keep else None
    rng = np.random.default_rng([cfg.seed, actor])
    sac_actor = SACActor(policy, pipeline, env.spec.action, online, demos, rng, warmup_steps=cfg.warmup_steps,
                         random_warmup=not cfg.pretrain.bc_steps, utd=0, batch_size=cfg.batch_size)
    loop = EnvironmentLoop(env, intervened(sac_actor, make_intervention(cfg.intervene, env)), reward, [sac_actor])
    name, version, pending, waited, loads, fetches = f"actor{actor}", -1, [], 0.0, [], []
    try:
        for number, slot in enumerate(episode_slots(cfg.episodes, cfg.dist.actors, actor)):
            t = time.perf_counter()
            fresh = _call(lambda v=version: learner.weights.remote(v), cfg, "weights", waiting=version < 0)
            if fresh is not None:
                version, published, state = fresh
                policy.load_acting_state(state)
                loads.append(time.time() - published)
                fetches.append(time.perf_counter() - t)
            policy.excess_weight = anneal_weight(slot, cfg.reward.delta_anneal)
            online.clear()
            if demos is not None:
                demos.clear()
            end = loop.run_episode(cfg.seed * 100_000 + slot, slot)
            row = {k: v for k, v in episode_row(cfg, slot, end, sac_actor, reward.stream is not None).items()
                   if k not in ("episode", "total_steps")}
            if cfg.successes.keep:
                row["success_demo_rows"] = sac_actor.keep_success()
            pending.append(Pending(number, online.rows(), None if demos is None else demos.rows(),
                                   {**row, "slot": slot, "weights_version": version}))
            t = time.perf_counter()
            answer = _send(learner, name, pending, cfg)
            waited += time.perf_counter() - t
            pending = [p for p in pending if p.number > answer["acked"]]
        while pending:  # the last episodes stay until a checkpoint holds them
            answer = _send(learner, name, pending, cfg)
            pending = [p for p in pending if p.number > answer["acked"]]
            if pending:
                time.sleep(RETRY_S)
    finally:
        env.close()
    # weights age: publish to load (an actor loads at its next episode's start); fetch: the call, transfer and load
    return {"actor": name, "weights_versions_loaded": len(loads), "weights_age_s_median": float(np.median(loads)) if loads else None,
            "weights_fetch_s_median": float(np.median(fetches)) if fetches else None, "send_wait_s": waited}


def _call(ref: Callable[[], object], cfg, what: str, waiting: bool = True):
    """`ray.get(ref())`, waiting out a learner that went away (Ray restarts it) and naming what waits; with
    `waiting` False an unreachable learner gives None."""
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError

    while True:
        try:
            return ray.get(ref(), timeout=cfg.dist.push_timeout_s)
        except (RayActorError, GetTimeoutError) as exc:
            if not waiting:
                return None
            print(f"learner unreachable for {what} ({type(exc).__name__}): holding, retrying in {RETRY_S:g} s", flush=True)
            time.sleep(RETRY_S)


def _send(learner, name: str, pending: list[Pending], cfg) -> dict:
    """Every pending episode, oldest first, until the learner has taken them all (it drops repeats)."""
    answer = {}
    for p in pending:
        answer = _call(lambda p=p: learner.push.remote(name, p.number, p.online, p.demos, p.row), cfg, f"episode {p.number}")
    return answer


def run_distributed(cfg, progress: bool = True) -> dict:
    """The learner and cfg.dist.actors actors on Ray; a learner that dies mid-run is restarted by Ray and the run goes on."""
    import ray
    from ray.exceptions import RayActorError

    from robo_reward.device import resolve_device

    cfg.validate()
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": cfg.dist.address} if cfg.dist.address else {"num_cpus": max(2, cfg.dist.actors + 1)}
        ray.init(include_dashboard=False, log_to_driver=progress, configure_logging=False, **kwargs)
    try:
        gpus = 1.0 if resolve_device(cfg.device).type == "cuda" else 0.0
        record = to_jsonable(cfg)
        learner = learner_class(gpus).options(name=LEARNER_NAME).remote(record)
        spec = _call(lambda: learner.spec.remote(), cfg, "the learner's spec")
        resources = {cfg.dist.actor_resource: 1} if cfg.dist.actor_resource else {}
        task = ray.remote(num_cpus=1, max_retries=0, resources=resources)(actor_main)
        actors = [task.remote(learner, spec["config"], k) for k in range(cfg.dist.actors)]
        training = learner.train.remote()
        learner_stats = []
        while True:  # the learner's train loop ends with the run; a restarted learner is asked to train again
            try:
                learner_stats.append(ray.get(training))
                break
            except RayActorError:
                time.sleep(RETRY_S)
                training = learner.train.remote()
        actor_stats = ray.get(actors)
        summary = _call(lambda: learner.finish.remote(), cfg, "the summary")
        summary["distributed"] = {"actors": actor_stats, "learner": learner_stats}
        from robo_reward.config import write_json

        write_json(cfg.out / "distributed.json", summary["distributed"])
        return summary
    finally:
        if started:
            ray.shutdown()
