"""The playground: a GAN on 2-D points, trained in a thread through training's public API
(a ``training.Session``: ganforge's own Game and gan_step, health at the training cadence),
and drawn as frames (points, D's surface, G's manifold, G's gradients, scores).

Every change the page asks for is a config change, validated by ``assemble.from_dict`` like
any YAML, then given to the session (``Session.reconfigure``: learning rates, k and the
objective in place); width, depth, nz, data or seed need new networks, so a new Session.
One lock serializes training steps and requests; every setting is bounded (inputs.py and
PARAMS) and a step's cost too (MAX_COST), so the lock is never held for long: a request
waits for it at most LOCK_WAIT seconds, and Play, Pause, Slow and Fast never wait for it.
The history the page gets (curve rows, health events) and the runs it saves have caps.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .. import assemble, config, data, objectives, runs
from ..errors import ConfigError
from ..metrics.toy import toy_scores
from ..training import Session
from .inputs import Busy, Limit
from .knobs import MAX_COST, PARAMS, checked, step_cost
from .runs_view import json_safe

PRESET = "gan-ring8"  # the networks the playground starts from (MLP 128x3, nz 2, batch 256)
FPS = 20  # frames built per second while training
SLOW_STEPS_PER_S = 4
HEALTH_EVERY = 50  # steps per health row (train.log_every of a real run)
PROBE_EVERY = 200  # steps between health probes (health.every)
SCORE_EVERY = 100  # steps between toy scores (2,500 samples, the PacGAN protocol)
N_SHOW, N_ARROWS, HEAT, GRID = 512, 96, 48, 16
MAX_ROWS = 20_000  # curve rows kept for the page (one a frame)
MAX_LOG_ROWS = 10_000  # the session's logged rows kept (one per 50 steps: what a saved run's metrics.jsonl holds)
MAX_EVENTS = 1_000  # health events kept
MAX_SAVES = 50  # runs one server's playground may save
MAX_COORD = 1e6  # a drawn or uploaded point's coordinates
LOCK_WAIT = 10.0  # seconds a request waits for the training thread
class Playground:
    def __init__(self, threads: int = 1, fps: int = FPS):
        self.threads, self.fps = threads, fps
        self.lock = threading.RLock()
        self.points_dir = Path(tempfile.mkdtemp(prefix="ganforge-points-"))
        base = config.preset_dict(PRESET)
        base["train"] = {**base.get("train", {}), "ema": 0.0, "device": "cpu", "progress": False, "tensorboard": False,
                         "log_every": HEALTH_EVERY}
        base["health"] = {"every": PROBE_EVERY, "warmup": PROBE_EVERY / base["train"]["steps"]}  # judged from the first probe on
        self.cfg = assemble.from_dict(base)
        self.playing = self.slow = False
        self.frame, self.frame_id, self.frame_time, self.generation = "null", 0, 0.0, 0
        self.rows: list[dict] = []  # one per frame while training: the live curves
        self.rows_base = 0  # rows dropped from the front (MAX_ROWS)
        self.events_base = 0  # health events dropped from the front (MAX_EVENTS)
        self.saves = 0
        self.steps_per_s = 0.0
        self.thread_cpu = 0.0  # CPU seconds the training thread has used (the benchmark's clock)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._build(self.cfg)
        self.thread = threading.Thread(target=self._loop, name="ganforge-playground", daemon=True)
        self.thread.start()

    # -- building ------------------------------------------------------------------------
    def _build(self, cfg) -> None:
        """A new Session for ``cfg`` (a reset), and the fixed latents and points the frames
        show; all is built before any of it replaces the old, so a failure changes nothing."""
        session = Session(cfg)
        gen = torch.Generator().manual_seed(cfg.train.seed + 1)
        z_show = torch.randn(N_SHOW, cfg.model.nz, generator=gen)
        z_score = torch.randn(2500, cfg.model.nz, generator=gen)
        real_show = session.source.real_samples(N_SHOW, seed=0)[0]
        self.cfg, self.session, self.z_show, self.z_score, self.real_show = cfg, session, z_show, z_score, real_show
        self.rows, self.rows_base, self.events_base = [], 0, 0
        self.generation += 1
        self._frame_acc, self._scores = {}, {}
        self.view = self._fit_view(None)
        self._make_frame()

    @contextmanager
    def _held(self):
        """The lock, for a request: never a wait without end (the page gets a 409 instead)."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            raise Busy("the playground is busy (a step or a rebuild is taking long); try again")
        try:
            yield
        finally:
            self.lock.release()

    # What the page and the server read of the session.
    game = property(lambda self: self.session.game)
    source = property(lambda self: self.session.source)
    info = property(lambda self: self.session.info)
    step = property(lambda self: self.session.step)
    events = property(lambda self: self.session.events)

    def update(self, changes: dict) -> dict:
        """Apply the page's changes (names from PARAMS), all or none: a ConfigError names the
        first bad one, and the previous settings stay."""
        if not isinstance(changes, dict) or not changes:
            raise ConfigError("expected a JSON object of settings, e.g. {\"lr_d\": 0.0001}")
        unknown = set(changes) - set(PARAMS)
        if unknown:
            raise ConfigError(f"unknown setting {str(sorted(unknown, key=str)[0])[:40]!r}; the settings are {', '.join(PARAMS)}")
        d = self.cfg.to_dict()
        width, depth = d["model"]["g_hidden"][0], len(d["model"]["g_hidden"])
        for name, value in changes.items():
            v = checked(name, value)
            if name == "width":
                width = v
            elif name == "depth":
                depth = v
            else:
                sec, leaf = PARAMS[name][0].split(".")
                d[sec][leaf] = v
        d["model"]["g_hidden"] = d["model"]["d_hidden"] = [width] * depth
        d["model"]["d_arch"] = "autoencoder" if objectives.OBJECTIVES.get(d["objective"]["name"]).takes_autoencoder else "standard"
        if "data" in changes:
            if d["data"]["name"] not in self.datasets():
                raise ConfigError(f"data {d['data']['name'][:40]!r}: the playground trains on 2-D points "
                                  f"({', '.join(self.datasets())})")
            if d["data"]["name"] == "points" and not (self.points_dir / "points.csv").exists():
                raise ConfigError("data 'points': draw points or upload a CSV first")
            d["data"]["root"] = str(self.points_dir / "points.csv") if d["data"]["name"] == "points" else None
        cfg = assemble.from_dict(d)
        T = cfg.train
        cost = step_cost(T.d_steps, T.batch_size, width, depth, cfg.model.nz)
        if cost > MAX_COST:
            raise ConfigError(f"k {T.d_steps}, batch {T.batch_size}, width {width}, depth {depth}: one step would take "
                              f"~{cost / MAX_COST:.0f}x the playground's budget (k x batch x width² x depth); "
                              "make one of them smaller")
        with self._held():
            self._apply(cfg)
        return self.settings()

    def _apply(self, cfg) -> None:
        old = self.cfg
        try:
            if self.session.reconfigure(cfg):
                self.cfg = cfg
                self._make_frame()
            else:
                self._build(cfg)
        except Exception:
            traceback.print_exc(file=sys.stderr)  # the server's log has the details, the page a sentence
            self.session.reconfigure(old)
            self.cfg = old
            raise ConfigError("these settings could not be applied; the previous ones are kept") from None

    def set_points(self, pts: np.ndarray) -> dict:
        """Train on these points (drawn or uploaded), data coordinates."""
        pts = np.asarray(pts, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or not 2 <= len(pts) <= data.toy2d.MAX_POINTS or not np.isfinite(pts).all():
            raise ConfigError(f"points: expected 2 to {data.toy2d.MAX_POINTS:,} finite [x, y] pairs, got shape {pts.shape}")
        if np.abs(pts).max() > MAX_COORD:
            raise ConfigError(f"points: coordinates must be within ±{MAX_COORD:g}")
        with self._held():
            np.savetxt(self.points_dir / "points.csv", pts, delimiter=",", header="x,y", comments="", fmt="%.6g")
            was = self.cfg.data.name
            if was == "points":  # same name, new file: rebuild explicitly
                self._build(self.cfg)
                return self.settings()
        return self.update({"data": "points"})

    def settings(self) -> dict:
        c = self.cfg
        return {"data": c.data.name, "objective": c.objective.name, "lr_g": c.optim.lr_g, "lr_d": c.optim.lr_d,
                "k": c.train.d_steps, "batch": c.train.batch_size, "width": c.model.g_hidden[0],
                "depth": len(c.model.g_hidden), "nz": c.model.nz, "gp_weight": c.objective.gp_weight,
                "r1_weight": c.objective.r1_weight, "label_smoothing": c.objective.label_smoothing,
                "mode_seeking": c.objective.mode_seeking, "seed": c.train.seed}

    @staticmethod
    def datasets() -> list[str]:
        return [n for n in data.DATASETS.names() if data.DATASETS.get(n).kind == "points"]

    # -- stepping ------------------------------------------------------------------------
    def control(self, action: str) -> dict:
        if action in ("play", "pause", "slow", "fast"):
            # Flags the training thread reads before each step: no lock, so Pause answers at
            # once even mid-step; the frame count moves so the page hears the new state.
            if action in ("play", "pause"):
                self.playing = action == "play"
            else:
                self.slow = action == "slow"
            self.frame_id += 1
        elif action in ("reset", "step", "d_step", "g_step"):
            self.playing = False
            with self._held():
                if action == "reset":
                    self._build(self.cfg)
                else:
                    self._step(action)
                    self._trim()
                self._make_frame()  # the page learns the new state with the next frame
        else:
            raise ConfigError(f"unknown action {str(action)[:40]!r}: expected play, pause, slow, fast, reset, step, "
                              "d_step or g_step")
        self._wake.set()
        return self.state()

    def _trim(self) -> None:
        """The session's logged rows and health events, capped (oldest out first)."""
        rows, events = self.session.rows, self.session.events
        if len(rows) > MAX_LOG_ROWS:
            del rows[:len(rows) - MAX_LOG_ROWS]
        if len(events) > MAX_EVENTS:
            drop = len(events) - MAX_EVENTS // 2
            del events[:drop]
            self.events_base += drop

    def _step(self, which: str = "full") -> None:
        for k, v in self.session.step_once({"step": "full", "d_step": "d", "g_step": "g"}.get(which, which)).items():
            self._frame_acc.setdefault(k, []).append(v)
        if which == "full" and self.step % SCORE_EVERY == 0:
            self._score()

    @torch.no_grad()
    def _G(self, z: torch.Tensor) -> torch.Tensor:
        return self.game.G(z)

    def _score(self) -> None:
        if self.info.centers is None:
            return
        s = toy_scores(self._G(self.z_score) * self.info.point_scale, self.info.centers, self.info.std)
        self._scores = {"modes": s.modes, "high_quality": s.high_quality, "reverse_kl": s.reverse_kl}

    def _loop(self) -> None:
        torch.set_num_threads(self.threads)
        self._clock, self._last_frame = (time.perf_counter(), 0), 0.0
        while not self._stop.is_set():
            if not self.playing:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            with self.lock:
                try:
                    if self.playing:
                        self._play_step()
                except Exception as e:  # never die silently: pause, tell the page, log the details
                    traceback.print_exc(file=sys.stderr)
                    self.playing = False
                    self._pause_with("training stopped", f"{type(e).__name__}: {str(e)[:200]}")
            self.thread_cpu = time.thread_time()
            if self.slow:
                self._stop.wait(1.0 / SLOW_STEPS_PER_S)

    def _play_step(self) -> None:
        """One step while playing; a frame when one is due (every step in slow mode)."""
        self._step()
        self._trim()
        if not all(math.isfinite(v[-1]) for v in self._frame_acc.values() if v):
            self._pause_with("divergence (NaN or Inf)", "a loss became non-finite; training paused "
                             "(reset, or lower the learning rates)")
        now = time.perf_counter()
        if self.step < self._clock[1]:  # a reset
            self._clock = (now, self.step)
        if now - self._clock[0] >= 1.0:
            self.steps_per_s = (self.step - self._clock[1]) / (now - self._clock[0])
            self._clock = (now, self.step)
        if self.slow or not self.playing or now - self._last_frame >= 1.0 / self.fps:
            self._make_frame()
            self._last_frame = now

    def _pause_with(self, title: str, detail: str) -> None:
        self.playing = False
        self.session.note({"condition": "divergence", "status": "start", "title": title, "detail": detail})

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask the training thread and the frame streams to end (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop the training thread (the server's shutdown) and remove the drawn points."""
        self.request_stop()
        self.thread.join(timeout=10)
        shutil.rmtree(self.points_dir, ignore_errors=True)

    # -- frames --------------------------------------------------------------------------
    def _fit_view(self, fake: torch.Tensor | None) -> list[float]:
        """The plane shown: the real points' box, widened to the fakes (up to 3x), square."""
        s = self.info.point_scale
        real = self.real_show * s
        pts = real if fake is None else torch.cat([real, fake.clamp(real.min() - 2 * s, real.max() + 2 * s)])
        lo, hi = pts.min(0).values, pts.max(0).values
        centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.1 + 1e-3
        target = [float(centre[0]) - half, float(centre[0]) + half, float(centre[1]) - half, float(centre[1]) + half]
        if fake is None:
            return target
        if not all(map(math.isfinite, target)):
            return self.view  # non-finite fakes: keep the last view
        return [0.8 * a + 0.2 * b for a, b in zip(self.view, target)]  # ease, so the view does not jump

    def _make_frame(self) -> None:
        G, D, obj, s = self.game.G, self.game.D, self.game.obj, self.info.point_scale
        with torch.no_grad():
            fake = G(self.z_show) * s
            self.view = self._fit_view(fake)
            x0, x1, y0, y1 = self.view
            xs, ys = torch.linspace(x0, x1, HEAT), torch.linspace(y1, y0, HEAT)  # rows from the top
            plane = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
            heat = obj.readout(D(plane / s, None))
            manifold = G(latent_grid(self.cfg.model.nz)) * s
        with torch.enable_grad():  # G's gradient on its samples: where its loss pushes each fake
            f = (fake[:N_ARROWS] / s).requires_grad_(True)
            (grad,) = torch.autograd.grad(obj.g(D(f, None), None), f)
        arrows = -grad * len(f)  # per sample: the loss is a mean over the batch
        row = {"step": self.step, **{k: _mean(v) for k, v in self._frame_acc.items()}, **self._scores,
               "steps_per_s": self.steps_per_s}
        self._frame_acc = {}
        if "loss_d" in row:
            self.rows.append(json_safe(row))
            if len(self.rows) > MAX_ROWS:
                self.rows, self.rows_base = self.rows[MAX_ROWS // 2:], self.rows_base + MAX_ROWS // 2
        frame = {"step": self.step, "view": self.view, "real": _flat(self.real_show * s), "fake": _flat(fake),
                 "heat": {"n": HEAT, "v": _flat(heat), "critic": obj.critic},
                 "manifold": {"n": GRID if self.cfg.model.nz > 1 else GRID * GRID, "p": _flat(manifold)},
                 "arrows": _flat(torch.cat([fake[:N_ARROWS], arrows], 1)),
                 "centers": self.info.centers, "modes_total": len(self.info.centers or [])}
        self.frame, self.frame_time = json.dumps(frame, allow_nan=False), time.time()
        self.frame_id += 1

    def state(self) -> dict:
        return {"playing": self.playing, "slow": self.slow, "step": self.step, "steps_per_s": round(self.steps_per_s, 1),
                "settings": self.settings(), "frame_id": self.frame_id}

    # -- saving --------------------------------------------------------------------------
    def save_run(self, runs_dir: Path, name: str = "playground") -> Path:
        """A normal run directory (config.yaml, checkpoints/, metrics.jsonl, health.jsonl,
        samples/): ``ganforge sample``, ``train --resume`` and ``diagnose`` accept it."""
        if self.saves >= MAX_SAVES:
            raise Limit(f"this server's playground has saved {MAX_SAVES} runs, its limit; restart ganforge serve to save more")
        with self._held():
            run = runs.free(Path(runs_dir) / name)
            run.mkdir(parents=True)
            try:
                over = None
                if self.cfg.data.name == "points":  # the drawn points travel with the run
                    shutil.copy(self.points_dir / "points.csv", run / "points.csv")
                    over = {"data": {"root": str((run / "points.csv").resolve())}}
                saved = self.session.save(run, over)
                self.saves += 1
                return saved
            except BaseException:
                shutil.rmtree(run, ignore_errors=True)  # never leave half a run behind
                raise


def latent_grid(nz: int, n: int = GRID, r: float = 2.0) -> torch.Tensor:
    """G's manifold: an n x n grid over the first two latent coordinates in [-r, r] (the
    others 0), or n² points along the line for nz = 1."""
    t = torch.linspace(-r, r, n)
    if nz == 1:
        return torch.linspace(-r, r, n * n)[:, None]
    z = torch.zeros(n * n, nz)
    z[:, :2] = torch.cartesian_prod(t, t)
    return z


def _mean(v: list) -> float:
    return float(sum(v) / len(v))


def _flat(t: torch.Tensor) -> list[float]:
    a = t.detach().double().reshape(-1).numpy()  # float64: float32 values print with 17 digits
    return np.round(np.where(np.isfinite(a), a, 0.0), 3).tolist()
