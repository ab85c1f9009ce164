"""SAC in the RLPD / HIL-SERL style: LayerNorm critics in an ensemble (target = min over a random
pair), a tanh-Gaussian actor, a learned (or fixed) entropy temperature, no entropy in the TD target.

With demonstrations: observations standardised with the demos' statistics, and the actor cloned from
them (mean action by squared error, spread by likelihood; optionally several clones acting with their
mean action). Then one of three ways to keep the clone while learning online: `residual` (the clone
frozen, a fresh actor adds a bounded correction — the only one that held the clone's success in the
pick-place benchmark), `ibrl` (the clone as a second proposal, chosen per state by the critics) or
`bc_weight` (a TD3+BC term on the demo rows); fine-tuning the clone directly, with or without the BC
term, lost it within a few episodes (docs/BENCHMARKS.md).

With `pixel_shape` the learner reads camera frames through its own PixelEncoder (DrQ): the clones and the
encoder are cloned together from the demonstrations; the clones then keep a frozen copy of that encoder
while the critics train it on (their loss alone, on randomly shifted frames), the target critics have a
Polyak copy, and the actor reads the critics' encoder detached."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robo_reward.reward.policy_encoder import PixelEncoder
from robo_reward.rl.replay import Batch


@dataclass(frozen=True)
class SACConfig:
    """The learner: SAC with a critic ensemble; how it keeps a cloned actor (residual, IBRL or a BC term)."""

    gamma: float = field(default=0.99, metadata={"help": "discount (also the shaping's γ)", "alias": "--gamma"})
    lr: float = field(default=3e-4, metadata={"help": "learning rate of actor, critics and temperature"})
    hidden: int = field(default=256, metadata={"help": "MLP width"})
    n_critics: int = field(default=2, metadata={"help": "critic ensemble size (RLPD uses 10)", "alias": "--n-critics"})
    critic_subset: int = field(default=2, metadata={"help": "critics the target takes the min over"})
    tau: float = field(default=0.005, metadata={"help": "target network Polyak rate"})
    init_alpha: float = field(default=0.1, metadata={"help": "initial entropy temperature", "alias": "--init-alpha"})
    learn_alpha: bool = field(default=True, metadata={"help": "learn the temperature toward -|A| entropy", "alias": "--learn-alpha"})
    backup_entropy: bool = field(default=False, metadata={"help": "soft targets (−α log π in the TD target); off as in RLPD"})
    max_std: float = field(default=math.exp(2.0), metadata={"help": "cap on the actor's spread before tanh (exploration noise)", "alias": "--max-std"})
    ibrl: bool = field(default=False, metadata={"help": "keep the cloned actor frozen beside the RL actor; act and bootstrap with whichever action the critics value more (IBRL)", "alias": "--ibrl"})
    residual: float = field(default=0.0, metadata={"help": "> 0: learn a residual of at most this size on top of the frozen cloned actor", "alias": "--residual"})
    bc_weight: float = field(default=0.0, metadata={"help": "BC term on demo rows (actor loss scaled by 1/mean|Q| when > 0)", "alias": "--bc-weight"})
    bc_ensemble: int = field(default=1, metadata={"help": "actors cloned from the demos (own init and batches); the frozen clone acts with their mean action", "alias": "--bc-ensemble"})
    clone_noise: float = field(default=0.0, metadata={
        "help": "Gaussian noise (standardised units; an image policy's encoder output) on what the clones read while "
                "they are cloned: a smoother map from few demonstrations' features to actions", "alias": "--clone-noise"})

ACTING_KEYS = ("actor", "critics", "bc_actor", "encoder", "clone_encoder", "obs_mean", "obs_std")  # acting_state()
ACTION_EPS = 1e-2  # |a| >= 1 - eps counts as saturated (a closed gripper is exactly -1)


def mlp(inp: int, hidden: int, out: int, layernorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(2):
        layers += [nn.Linear(inp if i == 0 else hidden, hidden)]
        if layernorm:
            layers += [nn.LayerNorm(hidden)]
        layers += [nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, out))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, max_std: float = math.exp(2.0)) -> None:
        super().__init__()
        self.max_log_std = math.log(max_std)
        self.net = mlp(obs_dim, hidden, 2 * act_dim, layernorm=True)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(-5.0, self.max_log_std)
        std = log_std.exp()
        u = mu if deterministic else mu + std * torch.randn_like(mu)
        return torch.tanh(u), _tanh_gaussian_logp(u, mu, log_std)

    def bc_loss(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Behaviour cloning: squared error of the mean action in [-1, 1], plus the likelihood of the
        demo action for the spread alone (mean detached), so that the cloned policy explores about as
        widely as it errs. Saturated demo actions (a gripper command of exactly ±1) say nothing about
        the spread (their atanh target is unbounded) and are left out of that term."""
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(-5.0, self.max_log_std)
        inside = (action.abs() < 1 - ACTION_EPS).float()
        u = torch.atanh(action.clamp(-1 + ACTION_EPS, 1 - ACTION_EPS))
        nll = 0.5 * ((u - mu.detach()) / log_std.exp()) ** 2 + log_std
        return ((torch.tanh(mu) - action) ** 2).mean() + 1e-2 * (nll * inside).sum() / inside.sum().clamp(min=1.0)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs).chunk(2, dim=-1)[0])


class CloneEnsemble(nn.Module):
    """Several actors cloned from the same demonstrations, acting with their mean action. With 20
    pick-place demos one clone stalls in states the demos never visited; the members disagree there
    and their mean moves on (measured in docs/BENCHMARKS.md)."""

    def __init__(self, members: list[Actor]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([m.mean_action(obs) for m in self.members]).mean(0)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Deterministic: the mean action (log-probability not defined, zeros); else a random member's sample."""
        if deterministic:
            return self.mean_action(obs), obs.new_zeros(len(obs))
        return self.members[int(torch.randint(len(self.members), ()))](obs)


def _tanh_gaussian_logp(u: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    logp = (-0.5 * ((u - mu) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    return logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)


class SAC:
    """Learner: `update(batch) -> metrics`, `act(obs)`, `state_dict()` / `load_state_dict()`."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, device: torch.device, seed: int = 0,
                 pixel_shape: tuple[int, ...] | None = None) -> None:
        torch.manual_seed(seed)
        self.cfg, self.device, self.obs_dim, self.act_dim = cfg, device, obs_dim, act_dim
        self.rng = np.random.default_rng(seed)
        self.pixel_shape = None if pixel_shape is None else tuple(pixel_shape)
        self.encoder: PixelEncoder | None = None  # the critics' (trained by their loss); None: a vector policy
        self.target_encoder: PixelEncoder | None = None
        self.clone_encoder: PixelEncoder | None = None  # the frozen clones' (trained with them by cloning)
        self.feat_dim = obs_dim
        if self.pixel_shape is not None:
            self.encoder = PixelEncoder(self.pixel_shape[0], self.pixel_shape[1]).to(device)
            self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
            self.feat_dim = obs_dim + self.encoder.out_dim
            self.aug_rng = torch.Generator().manual_seed(seed)  # random shifts (CPU draws: the same on any device)
        self.actor = Actor(self.feat_dim, act_dim, cfg.hidden, cfg.max_std).to(device)
        self.critics = nn.ModuleList(mlp(self.feat_dim + act_dim, cfg.hidden, 1, layernorm=True)
                                     for _ in range(cfg.n_critics)).to(device)
        self.target = copy.deepcopy(self.critics).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=device, requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        critic_params = list(self.critics.parameters()) + ([] if self.encoder is None else list(self.encoder.parameters()))
        self.critic_opt = torch.optim.Adam(critic_params, lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)
        self.obs_mean = torch.zeros(obs_dim, device=device)
        self.obs_std = torch.ones(obs_dim, device=device)
        self.bc_actor: CloneEnsemble | None = None
        self.clones: list[Actor] = [self.actor]  # pretrain_bc fills cfg.bc_ensemble of them; the first is the actor
        self.acted_bc = 0.0  # IBRL: share of cloned actions in the last act() call
        self.excess_weight = 0.0  # how much of each row's delta excess the reward includes now (rl --delta-anneal)

    def set_normalization(self, obs: np.ndarray) -> None:
        """Fixed per-dimension standardisation (from the demonstrations); clipped to ±10 when applied."""
        self.obs_mean = torch.as_tensor(obs.mean(0), dtype=torch.float32, device=self.device)
        self.obs_std = torch.as_tensor(np.maximum(obs.std(0), 1e-2), dtype=torch.float32, device=self.device)

    def _n(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs - self.obs_mean) / self.obs_std).clamp(-10.0, 10.0)

    def _inputs(self, obs: torch.Tensor, pixels: torch.Tensor | None, encoder: PixelEncoder | None,
                augment: bool = False) -> torch.Tensor:
        """What actor and critics read: the standardised vector, then (image policy) `encoder`'s features."""
        x = self._n(obs)
        if encoder is None:
            return x
        return torch.cat([x, encoder(pixels, self.aug_rng if augment else None)], dim=-1)

    def _one(self, obs: np.ndarray, pixels: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One observation as a batch of one: (vector, frames or None)."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        if self.pixel_shape is None:
            return o, None
        if pixels is None or tuple(pixels.shape) != self.pixel_shape:
            raise ValueError(f"this policy reads frames {self.pixel_shape}, got {None if pixels is None else tuple(pixels.shape)}")
        return o, torch.as_tensor(pixels, device=self.device)[None]

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False, pixels: np.ndarray | None = None) -> np.ndarray:
        o, p = self._one(obs, pixels)
        x = self._inputs(o, p, self.encoder)
        x_clone = None if self.clone_encoder is None else self._inputs(o, p, self.clone_encoder)
        a, _ = self._policy(x, deterministic, x_clone)
        if self.bc_actor is not None and self.cfg.ibrl:
            a, self.acted_bc = self._best_of(self.critics, x, a, deterministic, x_clone=x_clone)
        return a[0].cpu().numpy()

    @torch.no_grad()
    def value(self, obs: np.ndarray, action: np.ndarray, pixels: np.ndarray | None = None) -> float:
        """The critics' mean Q(obs, action): what the learner expects the return from here to be."""
        o, p = self._one(obs, pixels)
        x = self._inputs(o, p, self.encoder)
        a = torch.as_tensor(action, dtype=torch.float32, device=self.device)[None]
        return float(self._q(self.critics, x, a).mean())

    def _best_of(self, nets: nn.ModuleList, x: torch.Tensor, a_rl: torch.Tensor, deterministic: bool = False,
                 subset: torch.Tensor | None = None, x_clone: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
        """IBRL's proposal step: the RL action or the frozen cloned actor's, whichever the critics
        (mean, or min over `subset`) value more, per row; also the share of cloned actions."""
        a_bc, _ = self.bc_actor(x if x_clone is None else x_clone, deterministic)
        q = torch.stack([self._q(nets, x, a) for a in (a_rl, a_bc)])  # [2, E, B]
        q = q.mean(1) if subset is None else q[:, subset].min(1).values
        pick_bc = q[1] > q[0]
        return torch.where(pick_bc[:, None], a_bc, a_rl), float(pick_bc.float().mean())

    def _policy(self, x: torch.Tensor, deterministic: bool = False,
                x_clone: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The acting policy: the actor's tanh-Gaussian action, or with `residual` > 0 the frozen
        cloned actor's mean action plus `residual` times it (log-probability of the residual).
        `x_clone`: what the clones read, when it differs from the actor's input (their own encoder)."""
        a, logp = self.actor(x, deterministic)
        if self.cfg.residual > 0 and self.bc_actor is not None:
            a = (self.bc_actor.mean_action(x if x_clone is None else x_clone) + self.cfg.residual * a).clamp(-1.0, 1.0)
        return a, logp

    def freeze_bc_actor(self, members: int | None = None) -> None:
        """Keep a frozen copy of the cloned actors: IBRL's second proposal, or the base policy that a
        fresh residual actor (`residual` > 0) corrects. `members`: build that many untrained ones
        (to load a checkpoint into)."""
        clones = self.clones if members is None else [self._new_actor() for _ in range(members)]
        self.bc_actor = CloneEnsemble([copy.deepcopy(c) for c in clones]).requires_grad_(False)
        if self.encoder is not None:
            self.clone_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        if self.cfg.residual > 0:
            self.actor = self._new_actor()
            with torch.no_grad():  # start as the cloned policy: zero residual mean
                self.actor.net[-1].weight[: self.act_dim].zero_()
                self.actor.net[-1].bias[: self.act_dim].zero_()
            self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=self.cfg.lr)

    def _new_actor(self) -> Actor:
        return Actor(self.feat_dim, self.act_dim, self.cfg.hidden, self.cfg.max_std).to(self.device)

    def pretrain_bc(self, obs: np.ndarray, action: np.ndarray, steps: int, batch: int = 256,
                    pixels: np.ndarray | None = None) -> float:
        """Behaviour cloning on (obs, action in [-1, 1]) pairs (Actor.bc_loss) of the actor and, with
        `bc_ensemble` > 1, of further fresh actors (own init, own batches); returns the squared error
        of the clones' mean action over all pairs. An image policy clones its encoder with them."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        a = torch.as_tensor(action, dtype=torch.float32, device=self.device)
        self.clones = [self.actor] + [self._new_actor() for _ in range(self.cfg.bc_ensemble - 1)]
        if self.encoder is not None:
            return self._pretrain_bc_pixels(o, a, torch.as_tensor(pixels), steps, batch)
        for clone in self.clones:
            self._fit_clone(clone, lambda idx: self._n(o[idx]), a, steps, batch)
        with torch.no_grad():
            return float(((CloneEnsemble(self.clones).mean_action(self._n(o)) - a) ** 2).mean())

    def _fit_clone(self, clone: Actor, inputs: Callable[[torch.Tensor], torch.Tensor], a: torch.Tensor, steps: int,
                   batch: int) -> None:
        """`steps` of behaviour cloning of one actor on batches of rows (`inputs(idx)`: what it reads of them)."""
        opt = torch.optim.Adam(clone.parameters(), lr=1e-3)
        for _ in range(steps):
            idx = torch.as_tensor(self.rng.integers(0, len(a), batch), device=self.device)
            loss = clone.bc_loss(self._clone_noise(inputs(idx)), a[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def _clone_noise(self, x: torch.Tensor) -> torch.Tensor:
        """What a clone reads in a cloning batch: its input plus `clone_noise` Gaussian noise (standardised units)."""
        return x + self.cfg.clone_noise * torch.randn_like(x) if self.cfg.clone_noise > 0 else x

    def refine_clones(self, obs: np.ndarray, action: np.ndarray, steps: int, batch: int = 256,
                      pixels: np.ndarray | None = None) -> float:
        """More cloning of the frozen clones (`bc_actor`) on a grown demonstration buffer, e.g. with a person's
        interventions in it (HG-DAgger's use of them: the base policy learns the corrections; the residual and the
        critics go on as before). An image policy's clones read their frozen encoder. Returns the squared error of
        the clones' mean action over all pairs."""
        if self.bc_actor is None:
            raise ValueError("refine_clones needs frozen clones (--residual or --ibrl after --bc-init-steps)")
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        a = torch.as_tensor(action, dtype=torch.float32, device=self.device)
        px = None if pixels is None else torch.as_tensor(pixels)

        def inputs(idx) -> torch.Tensor:
            with torch.no_grad():
                return self._inputs(o[idx], None if px is None else px[idx.cpu()].to(self.device), self.clone_encoder)

        for clone in self.bc_actor.members:
            clone.requires_grad_(True)
            self._fit_clone(clone, inputs, a, steps, batch)
            clone.requires_grad_(False)
        with torch.no_grad():
            sq = [((self.bc_actor.mean_action(inputs(torch.arange(i, min(i + 512, len(o)), device=self.device)))
                    - a[i:i + 512]) ** 2).mean(-1) for i in range(0, len(o), 512)]
            return float(torch.cat(sq).mean())

    def _pretrain_bc_pixels(self, o: torch.Tensor, a: torch.Tensor, pixels: torch.Tensor, steps: int, batch: int) -> float:
        """The clones and the critics' encoder trained together by cloning (each clone on its own half of
        each batch of shifted frames); the target encoder then starts as a copy. Pixels stay on the CPU and
        go to the device a batch at a time."""
        assert self.encoder is not None and self.target_encoder is not None
        params = [p for c in self.clones for p in c.parameters()] + list(self.encoder.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)
        for _ in range(steps):
            idx = self.rng.integers(0, len(o), batch)
            x = self._clone_noise(self._inputs(o[idx], pixels[idx].to(self.device), self.encoder, augment=True))
            loss = torch.zeros((), device=self.device)
            for clone in self.clones:
                half = torch.as_tensor(self.rng.choice(batch, batch // 2, replace=False), device=self.device)
                loss = loss + clone.bc_loss(x[half], a[idx][half])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.target_encoder.load_state_dict(self.encoder.state_dict())
        with torch.no_grad():
            ensemble, sq = CloneEnsemble(self.clones), []
            for start in range(0, len(o), 512):
                sl = slice(start, start + 512)
                x = self._inputs(o[sl], pixels[sl].to(self.device), self.encoder)
                sq.append(((ensemble.mean_action(x) - a[sl]) ** 2).mean(-1))
            return float(torch.cat(sq).mean())

    def _q(self, nets: nn.ModuleList, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, act], dim=-1)
        return torch.stack([n(x).squeeze(-1) for n in nets])  # [E, B]

    def update(self, b: Batch, actor: bool = True) -> dict[str, float]:
        """One critic step, then (actor=True) one actor and temperature step. actor=False evaluates
        the current policy without changing it (critic pre-training on demonstrations)."""
        cfg = self.cfg
        alpha = self.log_alpha.exp().detach()
        obs = self._inputs(b.obs, b.pixels, self.encoder, augment=True)  # the critics' encoder learns from their loss
        obs_clone = next_clone = None
        with torch.no_grad():
            next_obs = self._inputs(b.next_obs, b.next_pixels, self.target_encoder, augment=True)
            if self.clone_encoder is not None:
                obs_clone = self._inputs(b.obs, b.pixels, self.clone_encoder)
                next_clone = self._inputs(b.next_obs, b.next_pixels, self.clone_encoder)
            a2, logp2 = self._policy(next_obs, x_clone=next_clone)
            subset = torch.as_tensor(self.rng.choice(cfg.n_critics, size=min(cfg.critic_subset, cfg.n_critics), replace=False))
            bc_share = None
            if self.bc_actor is not None and cfg.ibrl:
                a2, bc_share = self._best_of(self.target, next_obs, a2, subset=subset, x_clone=next_clone)
            q_next = self._q(self.target, next_obs, a2)[subset].min(0).values
            soft = alpha * logp2 if cfg.backup_entropy else 0.0
            raw = b.reward + self.excess_weight * b.excess + cfg.gamma * b.discount * (q_next - soft)
            target = raw.clamp(b.q_low, b.q_high)
        q = self._q(self.critics, obs, b.action)
        critic_loss = ((q - target[None]) ** 2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        metrics = {"critic_loss": critic_loss.item(), "q_mean": q.detach().mean().item(), "alpha": float(alpha),
                   "target_clipped": (raw != target).float().mean().item()}
        if bc_share is not None:
            metrics["bc_share_target"] = bc_share
        if actor:
            metrics.update(self._actor_step(obs.detach() if self.encoder is not None else obs, b, alpha, obs_clone))
        with torch.no_grad():
            for p, tp in zip(self.critics.parameters(), self.target.parameters(), strict=True):
                tp.lerp_(p, cfg.tau)
            if self.encoder is not None:
                for p, tp in zip(self.encoder.parameters(), self.target_encoder.parameters(), strict=True):
                    tp.lerp_(p, cfg.tau)
        return metrics

    def _actor_step(self, obs: torch.Tensor, b: Batch, alpha: torch.Tensor, obs_clone: torch.Tensor | None = None) -> dict[str, float]:
        cfg = self.cfg
        a, logp = self._policy(obs, x_clone=obs_clone)
        q_pi = self._q(self.critics, obs, a).mean(0)
        actor_loss = (alpha * logp - q_pi).mean()
        bc = torch.zeros((), device=self.device)
        if cfg.bc_weight > 0 and bool(b.demo.any()):
            demo_clone = None if obs_clone is None else obs_clone[b.demo]
            bc = ((self._policy(obs[b.demo], deterministic=True, x_clone=demo_clone)[0] - b.action[b.demo]) ** 2).mean()
            actor_loss = actor_loss / q_pi.abs().mean().detach().clamp(min=1e-2) + cfg.bc_weight * bc
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        if cfg.learn_alpha:
            alpha_loss = -(self.log_alpha * (logp.detach() - self.act_dim)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
        return {"actor_loss": actor_loss.item(), "bc_mse": bc.item()}

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critics": self.critics.state_dict(), "target": self.target.state_dict(),
                "log_alpha": self.log_alpha.detach().cpu(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict(),
                "obs_mean": self.obs_mean.cpu(), "obs_std": self.obs_std.cpu(), "rng": self.rng.bit_generator.state,
                "bc_actor": None if self.bc_actor is None else self.bc_actor.state_dict(),
                **({} if self.encoder is None else {
                    "encoder": self.encoder.state_dict(), "target_encoder": self.target_encoder.state_dict(),
                    "clone_encoder": None if self.clone_encoder is None else self.clone_encoder.state_dict(),
                    "aug_rng": self.aug_rng.get_state()})}

    def acting_state(self) -> dict:
        """What acting needs (an actor on another machine): actor, clones, critics (IBRL), encoders, statistics."""
        state = self.state_dict()
        return {k: state[k] for k in ACTING_KEYS if k in state}

    def load_acting_state(self, s: dict) -> None:
        """`acting_state()` (or a full `state_dict()`) of a learner of the same shape; `load_state_dict` starts here."""
        if s.get("bc_actor") is not None:
            if self.bc_actor is None:  # with a residual this replaces the actor and its optimiser
                self.freeze_bc_actor(members=len({k.split(".")[1] for k in s["bc_actor"]}))
            self.bc_actor.load_state_dict(s["bc_actor"])
        self.actor.load_state_dict(s["actor"])
        self.critics.load_state_dict(s["critics"])
        if self.encoder is not None:
            if "encoder" not in s:
                raise ValueError(f"this learner reads frames {self.pixel_shape}; the state has no image encoder")
            self.encoder.load_state_dict(s["encoder"])
            if s["clone_encoder"] is not None:
                self.clone_encoder.load_state_dict(s["clone_encoder"])
        self.obs_mean, self.obs_std = s["obs_mean"].to(self.device), s["obs_std"].to(self.device)

    def load_state_dict(self, s: dict) -> None:
        self.load_acting_state(s)
        self.target.load_state_dict(s["target"])
        with torch.no_grad():
            self.log_alpha.copy_(s["log_alpha"])
        self.actor_opt.load_state_dict(s["actor_opt"])
        self.critic_opt.load_state_dict(s["critic_opt"])
        self.alpha_opt.load_state_dict(s["alpha_opt"])
        self.rng.bit_generator.state = s["rng"]  # the critic-pair and batch choices go on where they stopped
        if self.encoder is not None:
            self.target_encoder.load_state_dict(s["target_encoder"])
            self.aug_rng.set_state(s["aug_rng"])
