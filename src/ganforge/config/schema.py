"""The options: one dataclass per section, every field with its default, its help text and
its check (a function returning an error or None) in ``metadata``.

Help texts that list what a registry holds say so by placeholder ("{datasets}"), since this
package imports no registry; ganforge.options fills them. Checks here look at one value;
checks against the registries live one floor up, in assemble.py.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable


def opt(default, help: str, check: Callable[[Any], str | None] | None = None, **kw):
    """A config field with its help text and an optional check returning an error or None."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, "check": check}, **kw)
    return field(default=default, metadata={"help": help, "check": check}, **kw)


def positive(v):
    return None if v > 0 else "must be > 0"


def non_negative(v):
    return None if v >= 0 else "must be >= 0"


def one_of(*choices):
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}"


def in_range(lo, hi):
    return lambda v: None if lo <= v < hi else f"must be in [{lo}, {hi})"


def non_negative_or_none(v):
    return None if v is None or v >= 0 else "must be >= 0"


def all_positive(v):
    return None if v and all(x > 0 for x in v) else "must be a non-empty list of positive integers"


@dataclass
class DataConfig:
    name: str = opt("digits", "dataset: {datasets} (points: a CSV of x,y rows at data.root; folder: any folder of images at data.root)")
    root: str | None = opt(None, "data directory (default $GANFORGE_DATA, else ~/.cache/ganforge/data); for name=folder, the image folder; for name=points, the CSV file")
    split: str = opt("train", "which split to train on", one_of("train", "test", "unlabeled", "train+unlabeled"))
    resolution: int = opt(32, "image side in pixels (images are resized: shorter side, then centre crop)", positive)
    channels: int = opt(0, "image channels: 1 or 3; 0 keeps the dataset's own", one_of(0, 1, 3))
    download: bool = opt(True, "download official datasets into data.root when they are missing")
    scale: float = opt(0.0, "2-D toys: ring radius, grid spacing or roll size; 0 = the distribution's default", non_negative)
    std: float = opt(0.0, "2-D toys: standard deviation of each mode; 0 = the distribution's default", non_negative)
    max_memory_mb: int = opt(4096, "image sets larger than this stream from a memory-mapped cache", positive)
    labels: str = opt("auto", "folder: auto (class sub-folders become labels) or none (every image below data.root, in any sub-folder, "
                              "is one unlabelled set: LSUN's hashed sub-folders)", one_of("auto", "none"))
    mirror: bool = opt(False, "images: add horizontal flips of the real images (each image of a batch mirrored with probability 1/2, "
                              "drawn from the data order's seed, so a resumed run sees the same flips)")


@dataclass
class ModelConfig:
    family: str = opt("dcgan", "network family: {families} (resnet: SNGAN's; fc: wide and shallow; upsample: stage 2 of a stack)")
    nz: int = opt(100, "latent dimension", positive)
    ngf: int = opt(64, "dcgan: generator width (channels of the last hidden layer)", positive)
    ndf: int = opt(64, "dcgan: discriminator width (channels of the first layer)", positive)
    max_mult: int = opt(8, "dcgan: channels per level are capped at max_mult x ngf (or ndf); 8 = the classic DCGAN, 64 lets a 512x512 G start at 2048 channels from ngf 32", positive)
    resnet_style: str = opt("constant", "resnet: constant (SNGAN's CIFAR-10 nets: 4·ngf channels in every G block, 2·ndf in D) or pyramid (its STL-10 nets: G halves from 2^n·ngf, D doubles from ndf up to 16·ndf)",
                            one_of("constant", "pyramid"))
    unpool_indices: str = opt("real", "unpool: where G's unpooling indices come from: real (D's max pooling on the current real batch, as in the original experiment: it can copy training images), generated (D on G's previous batch), fixed (D on the first real batch, once)",
                              one_of("real", "generated", "fixed"))
    low_res: int = opt(64, "upsample (stage 2 of a stack): side of the low-resolution image G starts from (stage 1's resolution)", positive)
    stage1: str = opt("", "a stack: stage 1 that makes the low-resolution images: a preset, a YAML file, or a finished run directory to reuse; empty = no stack")
    stage1_steps: int = opt(0, "a stack: stage 1's train.steps (0 = its own config's)", non_negative)
    g_hidden: list[int] = opt([256, 512, 1024], "mlp: generator hidden widths", all_positive)
    d_hidden: list[int] = opt([1000, 400, 200], "mlp, fc: discriminator hidden widths (fc: G mirrors them)", all_positive)
    dropout: float = opt(0.1, "mlp: dropout after each discriminator hidden layer", in_range(0, 1))
    d_norm: str = opt("batch", "discriminator normalization: batch, layer, none", one_of("batch", "layer", "none"))
    conditional: str = opt("none", "label conditioning: none; concat (cGAN: class joined to z and to D's input); acgan (z times a class embedding, D with an auxiliary classifier); projection (Miyato & Koyama 2018)",
                           one_of("none", "concat", "acgan", "projection"))
    d_arch: str = opt("standard", "discriminator: standard (a score), or autoencoder (EBGAN: energy = reconstruction MSE; objective energy)", one_of("standard", "autoencoder"))
    spectral_norm: bool = opt(False, "spectral normalization on every D layer (Miyato et al. 2018)")
    mbstd: bool = opt(False, "minibatch standard-deviation feature in D, against mode collapse (Karras et al. 2018)")
    freeze_d: int = opt(0, "fine-tuning (FreezeD, Mo et al. 2020): D's first N blocks, from the input, keep their weights "
                           "(left out of D's optimizer); 0 = none", non_negative)
    init: str = opt("normal", "weight init: normal = N(0, 0.02) as in DCGAN (BatchNorm N(1, 0.02)); default = PyTorch's", one_of("normal", "default"))


@dataclass
class ObjectiveConfig:
    name: str = opt("nonsaturating", "GAN objective: {objectives} (see the objectives table)")
    label_smoothing: float = opt(0.0, "one-sided label smoothing: real targets become 1 - s (Salimans et al. 2016)", in_range(0, 0.5))
    clip: float = opt(0.01, "wgan: critic weights are clipped to [-clip, clip] after every critic step", positive)
    gp_weight: float | None = opt(None, "gradient penalty weight λ on interpolates (Gulrajani et al. 2017); default 10 for wgan-gp, 0 otherwise", non_negative_or_none)
    r1_weight: float = opt(0.0, "R1 penalty γ/2·E‖∇D(x)‖² on real data (Mescheder et al. 2018); 0 = off", non_negative)
    margin: float = opt(1.0, "energy: the margin m in L_D = E(x) + [m - E(G(z))]+", positive)
    pt_weight: float = opt(0.1, "energy with an autoencoder D: weight of EBGAN's pulling-away term", non_negative)
    aux_weight: float = opt(1.0, "acgan: weight of the auxiliary classification loss", non_negative)
    aux_fake: bool = opt(True, "acgan: D's class head also learns to classify G's samples by the class asked for (Odena et al.); "
                               "false: D learns classes from real images only, G still has to match them")
    mode_seeking: float = opt(0.0, "weight of the mode-seeking regularizer on G (Mao et al. 2019); 0 = off", non_negative)
    instance_noise: float = opt(0.0, "std of Gaussian noise added to D's inputs, annealed linearly to 0 (Sønderby et al. 2017); 0 = off", non_negative)
    diffaugment: str = opt("", "DiffAugment policy for D's inputs (Zhao et al. 2020): any of color,translation,cutout,flip,rot90; empty = off",
                           lambda v: None if set(filter(None, v.split(","))) <= {"color", "translation", "cutout", "flip", "rot90"}
                           else "must be a comma list of color, translation, cutout, flip, rot90")
    ada: bool = opt(False, "adaptive augmentation (Karras et al. 2020): each image D sees goes through each objective.diffaugment operation "
                           "(translation,color,cutout when empty) with probability p, raised while D's overfitting signal "
                           "r_t = E[sign(D(x_real))] is above objective.ada_target and lowered below it")
    ada_target: float = opt(0.6, "adaptive augmentation: the r_t that p is steered to", in_range(0, 1))
    ada_kimg: float = opt(100.0, "adaptive augmentation: p can move from 0 to 1 in this many thousand real images", positive)
    ada_every: int = opt(4, "adaptive augmentation: training steps between adjustments of p", positive)


@dataclass
class OptimConfig:
    name: str = opt("adam", "optimizer for both networks: adam, rmsprop", one_of("adam", "rmsprop"))
    lr_g: float = opt(2e-4, "generator learning rate", positive)
    lr_d: float = opt(2e-4, "discriminator learning rate", positive)
    beta1: float = opt(0.5, "Adam beta1 (0.5 as in DCGAN)", in_range(0, 1))
    beta2: float = opt(0.999, "Adam beta2", in_range(0, 1))
    lr_decay: float = opt(0.0, "both learning rates fall linearly to 0 over this last fraction of train.steps "
                               "(SNGAN's schedule is 1: over the whole run); 0 = constant",
                            lambda v: None if 0 <= v <= 1 else "must be in [0, 1]")
    fused: bool = opt(True, "one fused kernel updates all parameters (Adam: fused, RMSprop: foreach): the same update as "
                            "PyTorch's per-parameter loop up to float rounding, in fewer passes over memory; false = that loop")


@dataclass
class TrainConfig:
    steps: int = opt(2000, "generator steps", positive)
    batch_size: int = opt(64, "global batch size: D sees this many real and this many fake per step, split evenly over the processes of a distributed run", positive)
    d_steps: int = opt(1, "discriminator steps per generator step (k in Goodfellow et al.)", positive)
    ema: float = opt(0.0, "decay of an exponential moving average of G's weights (e.g. 0.999); snapshots and the saved generator use it; 0 = off", in_range(0, 1))
    ema_rampup: float = opt(0.0, "EMA warm-up (StyleGAN2-ADA's ema_rampup): the average's half-life is at most this fraction of the steps so far, "
                                 "so early on it follows G closely and later averages up to train.ema; 0 = a constant train.ema", in_range(0, 1))
    seed: int = opt(0, "seed for weights, noise and data order", non_negative)
    channels_last: bool = opt(True, "keep conv weights and image batches channels-last (NHWC): faster convolutions on CPUs "
                                    "(oneDNN) and GPU tensor cores, the same results up to float rounding")
    device: str = opt("auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps",
                      lambda v: None if re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) else "must be auto, cpu, cuda, cuda:N or mps")
    log_every: int = opt(50, "steps between metrics.jsonl lines and progress-bar updates", positive)
    sample_every: int = opt(250, "steps between fixed-noise sample grids in samples/", positive)
    ckpt_every: int = opt(1000, "steps between checkpoints", positive)
    keep_ckpts: int = opt(3, "how many recent checkpoints to keep", positive)
    eval_every: int = opt(0, "steps between evaluations (metrics in metrics.jsonl; checkpoints/best.pt keeps the best); 0 = off", non_negative)
    eval_metric: str = opt("auto", "metric that picks the best checkpoint: auto (fid for images, high_quality for 2-D toys), or one of {metrics}")
    eval_n: int = opt(2000, "generated samples per periodic evaluation", positive)
    max_rollbacks: int = opt(3, "on NaN/Inf, roll back to the last checkpoint at most this many times, then stop", non_negative)
    rollback_lr_factor: float = opt(0.5, "each rollback multiplies the learning rates by this", lambda v: None if 0 < v <= 1 else "must be in (0, 1]")
    n_samples: int = opt(64, "images in each fixed-noise grid (points in each toy scatter: x40)", positive)
    video: str = opt("gif", "the timelapse of the snapshots at the end of the run: gif, or mp4 (needs ganforge[video]; without it a GIF, with a warning)", one_of("gif", "mp4"))
    progress: bool = opt(True, "show a progress bar")
    tensorboard: bool = opt(True, "also write TensorBoard events")
    amp: str = opt("off", "mixed precision for the training step: off; bf16 (autocast to bfloat16); fp16 (autocast to float16 with a gradient scaler, saved in checkpoints)",
                   one_of("off", "bf16", "fp16"))
    compile: bool = opt(False, "torch.compile G and D (D stays eager with a gradient penalty or R1: compiled graphs have no double backward)")
    tf32: bool = opt(True, "CUDA: TensorFloat-32 for float32 matmuls and convolutions (Ampere and newer; faster, 10-bit mantissa)")
    dist_timeout: float = opt(900.0, "distributed runs: seconds a process waits for the others in a collective before it stops with an error "
                                     "(a dead or hung process is reported within this time; rank 0's periodic evaluation must fit in it)", positive)


@dataclass
class HealthConfig:
    enabled: bool = opt(True, "watch for failure modes while training (health.jsonl, warnings, `ganforge diagnose`)")
    every: int = opt(200, "steps between probes of sample diversity (and toy modes)", positive)
    classes: str = opt("auto", "labelled images: judge mode collapse also by the classes a domain classifier finds in the probe: "
                              "auto (when `ganforge evaluate --features classifier` or an earlier run cached one for this dataset), "
                              "train (train and cache it first: about a minute for MNIST on a CPU), off",
                       one_of("auto", "train", "off"))
    window: int = opt(5, "flushed metric rows (train.log_every steps each) a condition is judged over", positive)
    warmup: float = opt(0.1, "fraction of train.steps before conditions are judged", in_range(0, 1))
    action: str = opt("warn", "on a condition: warn; stop (checkpoint and exit); rollback (to the last checkpoint, D's learning rate x health.rollback_lr_d)",
                      one_of("warn", "stop", "rollback"))
    conditions: list[str] = opt(["d_wins", "vanishing_g_grad", "mode_collapse", "oscillation", "divergence"],
                                "conditions that trigger health.action: any of {conditions}",
                                lambda v: None if all(isinstance(c, str) for c in v) else "must be a list of condition names")
    rollback_lr_d: float = opt(0.5, "health.action rollback: D's learning rate is multiplied by this", lambda v: None if 0 < v <= 1 else "must be in (0, 1]")


@dataclass
class Config:
    description: str = opt("", "one line about this configuration")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    health: HealthConfig = field(default_factory=HealthConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = ("data", "model", "objective", "optim", "train", "health")
