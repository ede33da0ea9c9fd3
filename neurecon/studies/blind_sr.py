"""Blind-SR study (Hui et al. 2021, AMNet / AMGAN / AMGAN* / AMGAN-RL) at CPU scale, ×4.

    python bench/blind_sr.py                # train (or resume / read) every run, score, write the results
    python bench/blind_sr.py --skip-train   # only read finished runs
    python bench/blind_sr.py --export       # also ship amnet_x4, amgan_x4 and the actors with their cards

The runs are the recipes of configs/blind_sr/, ordinary `neurecon train` runs (finished runs are
read, unfinished ones resumed), in dependency order: nonblind (the same EDSR body trained on the
bicubic degradation only), amnet (the modulated generator, L1), actor (the degradation estimator,
regression), then from the shipped amnet_x4 / blind_actor_x4: amgan (realness) and amgan_rel
(relativistic) at the same budget, amnet_rl and amgan_rl (Algorithm 1 against each generator).
A prerequisite that is not shipped yet is exported when its dependents need it.

Scored on held-out photographs never trained on and never used to pick a checkpoint (astronaut,
coffee, camera; :data:`neurecon.tasks.blind_sr.data.TEST`), each blurred with σ ∈ {0.2, 1.3, 2.6}
then MATLAB-bicubic ×4 and rounded to 8 bits: PSNR-Y / SSIM-Y (BasicSR conventions) of bicubic,
the non-blind model, AMNet with the true σ (oracle), with the actor's σ, and with the refined
actor's σ; the same for AMGAN and AMGAN*; the actors' σ errors; which loss terms each run had
active and which it skipped (no weights on the machine); the targets checked. Writes
bench/results/blind_sr/blind_sr.json and blind_sr.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .common import pyplot, write_json

SIGMAS = (0.2, 1.3, 2.6)
# run name → (recipe file, overrides); in training order
RUNS = {
    "nonblind": ("nonblind.yaml", []),
    "amnet": ("amnet.yaml", []),
    "actor": ("actor.yaml", []),
    "amgan": ("amgan.yaml", []),
    "amgan_rel": ("amgan_rel.yaml", []),
    "amnet_rl": ("amnet_rl.yaml", []),
    "amgan_rl": ("amgan_rl.yaml", []),
}
# what each run ships as, and the runs it needs shipped first
SHIPS = {
    "amnet": "amnet_x4",
    "actor": "blind_actor_x4",
    "amgan": "amgan_x4",
    "amnet_rl": "blind_actor_rl_x4",
    "amgan_rl": "amgan_actor_rl_x4",
}
NEEDS = {"amgan": ["amnet"], "amgan_rel": ["amnet"], "amnet_rl": ["amnet", "actor"], "amgan_rl": ["amgan", "actor"]}
TARGETS = {
    "actor_vs_oracle_db": 0.3,  # the actor-driven model within 0.3 dB of the oracle on average
    "blind_over_nonblind_db_at_2.6": 1.0,  # ≥ 1 dB over the bicubic-only model at σ = 2.6
    "rl_max_psnr_drop_db": 0.1,  # the refinement improves its reward and loses ≤ 0.1 dB PSNR
}


def _metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def wall_minutes(run: Path) -> float | None:
    el = [r["elapsed_s"] for r in _metrics(run) if "elapsed_s" in r]
    return round(el[-1] / 60, 2) if el else None


def load_configs(configs: Path, overrides: list[str]) -> dict:
    from ..train.config import load_config

    return {n: (configs / f, ov + overrides, load_config(configs / f, ov + overrides)) for n, (f, ov) in RUNS.items()}


def shipped_path(name: str) -> Path:
    from ..models import SHIPPED, WEIGHTS_DIR

    return WEIGHTS_DIR / SHIPPED[name].file


def export(run_dir: Path, name: str, scores: dict | None = None) -> Path:
    from ..models.card import export_run

    pt, _ = export_run(run_dir, shipped_path(name), scores or {})
    return pt


def train_all(cfgs: dict, skip_train: bool, quiet: bool, only: list[str] | None = None) -> None:
    from ..train.run import end_step, stage_finished, train_from_config

    for name, (path, ov, cfg) in cfgs.items():
        if only and name not in only:
            continue
        for need in NEEDS.get(name, []):
            if not shipped_path(SHIPS[need]).exists():
                if not (Path(cfgs[need][2].run.out) / "best.pt").exists():
                    raise FileNotFoundError(f"{name} needs {SHIPS[need]}: train {need} first")
                print(f"exporting {need} as {SHIPS[need]} (needed by {name})", flush=True)
                export(Path(cfgs[need][2].run.out), SHIPS[need])
        if stage_finished(cfg) or skip_train:
            continue
        t0 = time.perf_counter()
        trainer = train_from_config(path, overrides=ov, progress=not quiet)
        if trainer is not None and trainer.step < end_step(cfg):
            raise RuntimeError(f"{name} stopped at step {trainer.step}; run the bench again to resume")
        print(f"{name}: trained in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)


def _load(run_dir: Path):
    from ..models import load_model

    model, _ = load_model(run_dir / "best.pt")
    return model


def score(cfgs: dict, sigmas=SIGMAS, max_size: int | None = None) -> dict:
    """Every row of the study on the held-out pairs."""
    from ..tasks.blind_sr.data import TEST, fixed_pairs, load_split
    from ..tasks.blind_sr.evaluate import estimate, evaluate

    scale = int(cfgs["amnet"][2].task.get("scale", 4))
    pairs = fixed_pairs(load_split("demo", "test"), scale, sigmas, max_size=max_size)
    runs = {n: Path(c[2].run.out) for n, c in cfgs.items()}
    have = {n: (p / "best.pt").exists() for n, p in runs.items()}
    models = {n: _load(p) for n, p in runs.items() if have[n]}
    rows: dict[str, dict] = {"bicubic": evaluate("bicubic", pairs, scale)}
    if "nonblind" in models:
        rows["nonblind"] = evaluate(models["nonblind"], pairs, scale)
    actors = {"actor": models.get("actor"), "amnet_rl": models.get("amnet_rl"), "amgan_rl": models.get("amgan_rl")}
    for g in ("amnet", "amgan", "amgan_rel"):
        if g not in models:
            continue
        rows[f"{g}:oracle"] = evaluate(models[g], pairs, scale, "oracle")
        if actors["actor"] is not None:
            rows[f"{g}:actor"] = evaluate(models[g], pairs, scale, actors["actor"])
        rl = {"amnet": "amnet_rl", "amgan": "amgan_rl"}.get(g)
        if rl and actors[rl] is not None:
            rows[f"{g}:actor_rl"] = evaluate(models[g], pairs, scale, actors[rl])
    sigma_err = {}
    for a, m in actors.items():
        if m is None:
            continue
        est = [estimate(m, p.lr)[0] for p in pairs]
        sigma_err[a] = {
            "mae": float(np.mean([abs(e - p.sigma) for e, p in zip(est, pairs)])),
            "by_sigma": {
                f"{s:g}": {
                    "mean": float(np.mean([e for e, p in zip(est, pairs) if p.sigma == s])),
                    "mae": float(np.mean([abs(e - s) for e, p in zip(est, pairs) if p.sigma == s])),
                }
                for s in sigmas
            },
        }
    return {"test_images": TEST, "sigmas": list(sigmas), "scale": scale, "rows": rows, "sigma_estimates": sigma_err}


def loss_terms(cfgs: dict) -> dict:
    out = {}
    for n, (_, _, cfg) in cfgs.items():
        p = Path(cfg.run.out) / "loss_terms.json"
        if p.exists():
            rec = json.loads(p.read_text())
            out[n] = {"loss": rec["loss"], "active": rec["active"], "skipped": rec["skipped"]}
    return out


def check_targets(rows: dict) -> dict:
    """The issue's targets, each with the numbers it is decided on."""
    out: dict[str, dict] = {}
    if "amnet:oracle" in rows and "amnet:actor" in rows:
        gap = rows["amnet:oracle"]["psnr_y"] - rows["amnet:actor"]["psnr_y"]
        out["actor_within_0.3dB_of_oracle"] = {"gap_db": gap, "met": gap <= TARGETS["actor_vs_oracle_db"]}
    if "amnet:actor" in rows and "nonblind" in rows:
        d = rows["amnet:actor"]["by_sigma"]["2.6"]["psnr_y"] - rows["nonblind"]["by_sigma"]["2.6"]["psnr_y"]
        out["blind_1dB_over_nonblind_at_2.6"] = {"gain_db": d, "met": d >= TARGETS["blind_over_nonblind_db_at_2.6"]}
    for g in ("amnet", "amgan"):
        a, b = rows.get(f"{g}:actor"), rows.get(f"{g}:actor_rl")
        if a and b:
            # the reward is PSNR-Y of the 8-bit output: on held-out images it is the benchmark's PSNR-Y
            dr = b["psnr_y"] - a["psnr_y"]
            out[f"{g}_rl_improves_reward"] = {
                "reward_before": a["psnr_y"],
                "reward_after": b["psnr_y"],
                "gain_db": dr,
                "ssim_change": b["ssim_y"] - a["ssim_y"],
                "met": dr > 0 and dr >= -TARGETS["rl_max_psnr_drop_db"],
            }
    return out


def critic_forms(steps: int = 250, seed: int = 0) -> dict:
    """Which critic loss trains: DDPG's squared TD error vs Algorithm 1's printed linear form, on a
    toy environment with a known optimum (states: constant images of brightness b; best action
    1 + 2b; reward −(a − a*)², observed only), from the same biased pre-trained actor. Reports the
    regret before and after, and the critic's mean |Q| against the mean |r| it should track."""
    import torch

    from ..nn.blind_sr import Critic
    from ..train.actor_critic import ReplayBuffer, actor_objective, critic_update, explore

    class Actor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, s):
            return self.lin(s.mean((1, 2, 3))[:, None])

    out = {}
    for form in ("td2", "printed"):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)

        def states(n, rng=rng):
            b = torch.from_numpy(rng.uniform(0.1, 0.9, size=n)).float()
            return b.view(n, 1, 1, 1).expand(n, 3, 6, 6).contiguous(), b

        reward = lambda a, b: -((a[:, 0] - (1 + 2 * b)) ** 2)  # noqa: E731
        actor, critic = Actor(), Critic(width=8, depth=1, action_dim=1, hidden=32)
        pre = torch.optim.Adam(actor.parameters(), lr=5e-2)
        for _ in range(300):
            s, b = states(16)
            loss = ((actor(s)[:, 0] - (1.6 + 2 * b)) ** 2).mean()
            pre.zero_grad()
            loss.backward()
            pre.step()
        opt_a = torch.optim.Adam(actor.parameters(), lr=3e-3)
        opt_c = torch.optim.Adam(critic.parameters(), lr=3e-3)
        ts, tb = states(64)
        with torch.no_grad():
            before = float(-reward(actor(ts), tb).mean())
        buf, qs = ReplayBuffer(512, (3, 6, 6), 1), []
        for _ in range(steps):
            s, b = states(16)
            with torch.no_grad():
                acts = explore(actor(s), 3, 0.4, rng, 0.0, 4.0)
                buf.add(s.repeat(3, 1, 1, 1), acts, reward(acts, b.repeat(3)))
            critic_update(critic, opt_c, buf, rng, 64, form, gamma=0.99)
            la = actor_objective(critic, actor, buf.sample(rng, 64)[0])
            opt_a.zero_grad()
            la.backward()
            opt_a.step()
            with torch.no_grad():
                bs, ba, br = buf.sample(rng, 64)
                qs.append((float(critic(bs, ba).abs().mean()), float(br.abs().mean())))
        with torch.no_grad():
            after = float(-reward(actor(ts), tb).mean())
        out[form] = {
            "regret_before": before,
            "regret_after": after,
            "mean_abs_q_end": qs[-1][0],
            "mean_abs_r_end": qs[-1][1],
            "mean_abs_q_every_50": [round(q, 4) for q, _ in qs[49::50]],
            "trains": after < 0.5 * before and qs[-1][0] < 10 * max(qs[-1][1], 1e-3),
        }
    return out


def plot(result: dict, path: Path) -> None:
    plt = pyplot()
    rows = result["rows"]
    names = [n for n in rows]
    sig = [f"{s:g}" for s in result["sigmas"]]
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.2))
    w = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = [rows[n]["by_sigma"][s]["psnr_y"] for s in sig]
        ax[0].bar(np.arange(len(sig)) + i * w, vals, w, label=n)
    ax[0].set_xticks(np.arange(len(sig)) + 0.4 - w / 2, [f"σ = {s}" for s in sig])
    lo = min(rows[n]["by_sigma"][s]["psnr_y"] for n in names for s in sig)
    ax[0].set_ylim(lo - 1, None)
    ax[0].set(ylabel="PSNR-Y (dB)", title=f"×{result['scale']}, held-out: {', '.join(result['test_images'])}")
    ax[0].legend(fontsize=7, ncol=2)
    for a, est in result["sigma_estimates"].items():
        xs = [float(s) for s in est["by_sigma"]]
        ax[1].plot(xs, [est["by_sigma"][s]["mean"] for s in est["by_sigma"]], "o-", label=a)
    ax[1].plot([0, 3], [0, 3], "k:", lw=1, label="true σ")
    ax[1].set(xlabel="true σ", ylabel="estimated σ (mean over images)", title="degradation estimates")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(result: dict) -> str:
    sig = [f"{s:g}" for s in result["sigmas"]]
    lines = ["| method | " + " | ".join(f"σ={s} PSNR / SSIM" for s in sig) + " | mean PSNR / SSIM |"]
    lines.append("|---" * (len(sig) + 2) + "|")
    for n, r in result["rows"].items():
        cells = [f"{r['by_sigma'][s]['psnr_y']:.2f} / {r['by_sigma'][s]['ssim_y']:.4f}" for s in sig]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {r['psnr_y']:.2f} / {r['ssim_y']:.4f} |")
    return "\n".join(lines)


def run(
    root: Path,
    configs: str | Path,
    out: str | Path,
    overrides: list[str] | None = None,
    skip_train: bool = False,
    export_all: bool = False,
    quiet: bool = False,
    only: list[str] | None = None,
    max_size: int | None = None,
) -> dict:
    import platform

    cfgs = load_configs(Path(configs), list(overrides or []))
    train_all(cfgs, skip_train, quiet, only)
    t0 = time.perf_counter()
    result = score(cfgs, max_size=max_size)
    result["targets"] = check_targets(result["rows"])
    result["critic_forms"] = critic_forms()
    result["loss_terms"] = loss_terms(cfgs)
    result["runs"] = {
        n: {
            "config": str(c[0].relative_to(root)) if c[0].is_relative_to(root) else str(c[0]),
            "out": c[2].run.out,
            "iterations": c[2].run.iterations,
            "wall_minutes": wall_minutes(Path(c[2].run.out)),
            "finished": (Path(c[2].run.out) / "best.pt").exists(),
        }
        for n, c in cfgs.items()
    }
    result["score_seconds"] = round(time.perf_counter() - t0, 1)
    result["machine"] = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    for row in result["rows"].values():  # per-pair rows stay in the JSON, trimmed of numpy types
        for r in row["rows"]:
            r["code"] = None if r["code"] is None else [float(c) for c in r["code"]]
    out = Path(out)
    write_json(out / "blind_sr.json", result)
    plot(result, out / "blind_sr.png")
    if not quiet:
        print(table(result))
        print(json.dumps(result["targets"], indent=1))
        print(json.dumps(result["critic_forms"], indent=1))
    if export_all:
        for n, name in SHIPS.items():
            run_dir = Path(cfgs[n][2].run.out)
            if (run_dir / "best.pt").exists():
                pt = export(run_dir, name, {"blind_sr_bench": card_scores(result, n)})
                print(f"shipped {pt}")
    return result


def card_scores(result: dict, run: str) -> dict:
    """The benchmark rows a shipped model's card keeps (its own, and bicubic's for reference)."""
    keys = {
        "amnet": ["amnet:oracle", "amnet:actor", "amnet:actor_rl"],
        "amgan": ["amgan:oracle", "amgan:actor", "amgan:actor_rl"],
        "actor": ["amnet:actor", "amgan:actor"],
        "amnet_rl": ["amnet:actor_rl"],
        "amgan_rl": ["amgan:actor_rl"],
    }[run]
    rows = result["rows"]
    keep = {k: {"psnr_y": rows[k]["psnr_y"], "ssim_y": rows[k]["ssim_y"], "by_sigma": rows[k]["by_sigma"]}
            for k in ["bicubic", "nonblind", *keys] if k in rows}  # fmt: skip
    out = {"held_out": result["test_images"], "rows": keep}
    est = {"actor": "actor", "amnet_rl": "amnet_rl", "amgan_rl": "amgan_rl"}.get(run)
    if est and est in result["sigma_estimates"]:
        out["sigma_mae"] = result["sigma_estimates"][est]["mae"]
    return out
