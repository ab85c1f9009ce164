"""SAC in the RLPD / HIL-SERL style: LayerNorm critics in an ensemble (target = min over a random
pair), a tanh-Gaussian actor, a learned (or fixed) entropy temperature."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robo_reward.rl.replay import Batch


@dataclass(frozen=True)
class SACConfig:
    gamma: float = field(default=0.99, metadata={"help": "discount (also the shaping's γ)"})
    lr: float = field(default=3e-4, metadata={"help": "learning rate of actor, critics and temperature"})
    hidden: int = field(default=256, metadata={"help": "MLP width"})
    n_critics: int = field(default=2, metadata={"help": "critic ensemble size (RLPD uses 10)"})
    critic_subset: int = field(default=2, metadata={"help": "critics the target takes the min over"})
    tau: float = field(default=0.005, metadata={"help": "target network Polyak rate"})
    init_alpha: float = field(default=0.1, metadata={"help": "initial entropy temperature"})
    learn_alpha: bool = field(default=True, metadata={"help": "learn the temperature toward -|A| entropy"})


def mlp(inp: int, hidden: int, out: int, layernorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(2):
        layers += [nn.Linear(inp if i == 0 else hidden, hidden)]
        if layernorm:
            layers += [nn.LayerNorm(hidden)]
        layers += [nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, out))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, 2 * act_dim, layernorm=True)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(-5.0, 2.0)
        std = log_std.exp()
        u = mu if deterministic else mu + std * torch.randn_like(mu)
        a = torch.tanh(u)
        logp = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return a, logp


class SAC:
    """Learner: `update(batch) -> metrics`, `act(obs)`, `state_dict()` / `load_state_dict()`."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, device: torch.device, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg, self.device, self.act_dim = cfg, device, act_dim
        self.rng = np.random.default_rng(seed)
        self.actor = Actor(obs_dim, act_dim, cfg.hidden).to(device)
        self.critics = nn.ModuleList(mlp(obs_dim + act_dim, cfg.hidden, 1, layernorm=True) for _ in range(cfg.n_critics)).to(device)
        self.target = copy.deepcopy(self.critics).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=device, requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        a, _ = self.actor(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None], deterministic)
        return a[0].cpu().numpy()

    def _q(self, nets: nn.ModuleList, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, act], dim=-1)
        return torch.stack([n(x).squeeze(-1) for n in nets])  # [E, B]

    def update(self, b: Batch) -> dict[str, float]:
        cfg = self.cfg
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            a2, logp2 = self.actor(b.next_obs)
            subset = self.rng.choice(cfg.n_critics, size=min(cfg.critic_subset, cfg.n_critics), replace=False)
            q_next = self._q(self.target, b.next_obs, a2)[torch.as_tensor(subset)].min(0).values
            target = b.reward + cfg.gamma * b.discount * (q_next - alpha * logp2)
        q = self._q(self.critics, b.obs, b.action)
        critic_loss = ((q - target[None]) ** 2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        a, logp = self.actor(b.obs)
        q_pi = self._q(self.critics, b.obs, a).mean(0)
        actor_loss = (alpha * logp - q_pi).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        if cfg.learn_alpha:
            alpha_loss = -(self.log_alpha * (logp.detach() - self.act_dim)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
        with torch.no_grad():
            for p, tp in zip(self.critics.parameters(), self.target.parameters(), strict=True):
                tp.lerp_(p, cfg.tau)
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "alpha": float(alpha),
                "q_mean": q.detach().mean().item()}

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critics": self.critics.state_dict(), "target": self.target.state_dict(),
                "log_alpha": self.log_alpha.detach().cpu(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, s: dict) -> None:
        self.actor.load_state_dict(s["actor"])
        self.critics.load_state_dict(s["critics"])
        self.target.load_state_dict(s["target"])
        with torch.no_grad():
            self.log_alpha.copy_(s["log_alpha"])
        self.actor_opt.load_state_dict(s["actor_opt"])
        self.critic_opt.load_state_dict(s["critic_opt"])
        self.alpha_opt.load_state_dict(s["alpha_opt"])
