"""Training with the real codec in the loop (Jiang et al. 2017, arXiv 1708.00838).

How a run works, and why:

* The codec runs on **whole images**, never on crops, so the block grid the
  network learns to undo is the real one. Decoded images are cached once per
  round on a fixed grid of qualities; training crops are cut from the cache.
* The order of the data is a pure function of ``(seed, step)``, so a run
  resumes from its last checkpoint with the same command and no iterator state,
  and the same seed gives the same run.
* ``mode="post"`` trains a restoration network alone on the plain codec's
  output (the ARCNN / ARCNN-ASPP setup; at scale 2 the codec codes an area
  downscale). ``mode="joint"`` alternates, as in the paper:
  (a) ComCNN fixed: its output is coded with the REAL codec, the restoration
      network learns to restore the original from the really decoded image;
  (b) restoration fixed: ComCNN learns through a straight-through stand-in for
      the codec: forward, its output plus the real coding error measured at
      the start of the round; backward, identity.
  With ``rate_weight`` (JPEG; issue #23) step (b) comes first in each round
  and is rate-aware: the pre-processor (a ``PreEditor`` at scale 1) learns
  through a differentiable JPEG (diffjpeg.py) at the real encoder's tables,
  and its loss adds the rate proxy (rateproxy.py, fitted to the real
  encoder's bytes at the start of the run) weighted by lambda, the slope of
  the codec's own rate-distortion curve at that quality on the training
  images (times ``rate_weight``): an edit then pays when it saves more bits
  than its distortion is worth at that operating point. Step (a) then
  retrains the restoration network on the real encoder's files of the
  edited images.
"""

from __future__ import annotations

import io
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import codecs, names
from .. import scale as scales
from ..coding import CodingPath
from ..errors import HybridCodecError
from ..images import downscaled, list_images, read_rgb
from ..scale import Scale

# The coding scale each pre-processor (names.PRE_MODELS) trains at: the ComCNN
# downscales by 2, the pre-editor edits at full size.
PRE_MODEL_SCALES = {"comcnn": scales.HALF, "pre-editor": scales.FULL}


@dataclass
class TrainConfig:
    codec: str = "webp"
    data: str = ""
    val: str = ""
    mode: str = "post"  # "post" or "joint"
    model: str = "reccnn"  # key of models.RESTORATION_MODELS
    # MSE, not L1: with 8-bit data most pixels of a good-quality decode have
    # exactly zero error, so L1's median pulls a residual network to output
    # nothing at all (measured: 0.00 dB gain after 1000 steps; MSE: +0.13 dB
    # after 300). MSE is also what PSNR measures.
    loss: str = "mse"
    scale: Scale = scales.FULL  # also given as 1, "4/3" or 2
    minutes: float | None = None  # wall-clock budget of this invocation
    steps: int = 4000  # total steps of the run
    rounds: int = 4  # joint mode: alternation rounds within `steps`
    batch: int = 16
    crop: int = 128  # crop side at full resolution
    lr: float = 5e-4
    seed: int = 0
    out: str = "runs/default"
    qualities: list[int] = field(default_factory=list)
    val_qualities: list[int] = field(default_factory=list)
    checkpoint_minutes: float = 5.0
    val_every: int = 500
    model_kwargs: dict = field(default_factory=dict)
    distribute: bool = False
    init: str = ""  # .keras restoration model to start from (layers whose shapes match)
    # Files of which of the codec's encoders to learn from (for JPEG also those
    # files never name, as other software writes), each at every quality;
    # empty: the codec's default encoder alone.
    encoders: list[str] = field(default_factory=list)
    # also train on each photo area-downscaled to this long side (0: no): photos
    # are often shared smaller, with more detail a pixel than at full size
    add_downscaled: int = 0
    pre_model: str = "comcnn"  # joint mode: key of models.PRE_MODELS
    # joint mode: None, the paper's straight-through step for the ComCNN; a
    # number, the rate-aware step (JPEG) with lambda = rate_weight x the slope.
    rate_weight: float | None = None
    # None: the loss alone; a number: plus this x a patch discriminator's
    # least-squares GAN term (tools/adversarial.py), restoration steps only
    adversarial: float | None = None
    # "": none; a .keras restoration network (the same condition and scale)
    # the network also learns from: distillation, post mode (CodedSet.taught)
    teacher: str = ""
    teacher_weight: float = 1.0

    def __post_init__(self):
        if self.mode not in names.TRAIN_MODES:
            raise ValueError(f"mode must be {names.spoken(names.TRAIN_MODES)}, not {self.mode!r}")
        if self.loss not in names.LOSSES:  # said before the images load, as get_loss says it
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(names.LOSSES)}")
        self.scale = scales.parse(self.scale)
        if self.mode == "joint":
            if self.pre_model not in names.PRE_MODELS:
                raise ValueError(f"unknown pre-processor {self.pre_model!r}; "
                                 f"choose from {', '.join(names.PRE_MODELS)}")
            if self.scale != PRE_MODEL_SCALES[self.pre_model]:
                raise ValueError(f"joint mode with --pre-model {self.pre_model} needs --scale "
                                 f"{PRE_MODEL_SCALES[self.pre_model].label}")
        if self.add_downscaled < 0:
            raise ValueError(f"--add-downscaled takes a long side in pixels, not {self.add_downscaled}")
        if self.rate_weight is not None and (self.mode != "joint" or self.codec != "jpeg"):
            raise ValueError("--rate-weight trains a pre-processor for JPEG: it needs --mode joint --codec jpeg")
        if self.rate_weight is not None and self.distribute:
            raise ValueError("--rate-weight runs on one device: drop --distribute")
        if self.adversarial is not None and (self.adversarial <= 0 or self.distribute or self.net_scale != 1):
            raise ValueError("--adversarial takes a weight above 0 and trains a network that restores "
                             "at the decoded size (--scale 1 or 4/3), on one device (no --distribute)")
        if self.teacher and (self.mode != "post" or self.teacher_weight <= 0):
            raise ValueError("--teacher trains a restoration network alone (--mode post) "
                             "with a --teacher-weight above 0")
        if not self.qualities:
            self.qualities = list(codecs.by_name(self.codec).quality_grid)
        if not self.val_qualities:
            self.val_qualities = self.qualities[:: max(1, len(self.qualities) // 5)]
        for encoder in self.encoders:
            if encoder not in codecs.by_name(self.codec).encoders:
                raise ValueError(f"unknown encoder {encoder!r} for {self.codec}")

    @property
    def condition(self) -> str:
        """The restoration contract of the network trained (coding.CONDITIONS)."""
        return self.model_kwargs.get("condition", "quality")

    @property
    def net_scale(self) -> int:
        """The restoration network's own scale (1 at 4/3: the decoder upsamples first)."""
        return self.scale.network_factor

    def as_json(self) -> dict:
        """The config as the model card records it (the scale by its label)."""
        return {**asdict(self), "scale": self.scale.label}


# --------------------------------------------------------------------------
# Data: the codec on whole images, crops from the cache
# --------------------------------------------------------------------------


@dataclass
class CodedSet:
    """Originals and their real decoded versions, one per (image, encoder, quality)."""

    originals: list[np.ndarray]  # uint8 (H, W, 3)
    coded: list[np.ndarray]  # uint8, what went into the codec (pre-processed), per entry
    decoded: list[np.ndarray]  # uint8, what came out of it, per entry
    image_index: list[int]
    quality: list[int]
    num_bytes: list[int]
    condition: list[np.ndarray] = field(default_factory=list)  # (K,) what the network is told, per entry
    # Distillation: a teacher network's uint8 restoration per entry (full
    # size, as the originals) and its weight in the target (make_batch).
    taught: list[np.ndarray] = field(default_factory=list)
    taught_weight: float = 0.0


def code_images(originals, codec, qualities, scale, pre=None, encoders=(), condition="quality") -> CodedSet:
    """Run the real codec on every (image, encoder, quality). ``pre`` is the
    ComCNN (a Keras model) or None for the classical area downscale. At a
    scale a network does not upsample itself (4/3), ``decoded`` holds the
    bicubic upscale of the decoded image, which is what that network sees.
    ``encoders``: names of the codec's encoders, training-only ones
    included (default: the codec's default one); ``condition``: the contract the network is told by."""
    from ..coding import condition_vector, takes_quality

    backend = codecs.get_codec(codec) if isinstance(codec, str) else codec
    scale = scales.parse(scale)
    out = CodedSet(originals, [], [], [], [], [])
    for i, image in enumerate(originals):
        compacts = {}  # a PreEditor edits for each quality, other pre-processing once
        h, w = image.shape[:2]
        for encoder in encoders or [None]:
            writer = backend.configured(encoder) if encoder else backend  # training-only encoders too
            for q in qualities:
                key = q if pre is not None and takes_quality(pre) else None
                if key not in compacts:
                    compacts[key] = CodingPath(backend, q, scale, pre=pre).compact(image)
                compact = compacts[key]
                path = CodingPath(backend, q, scale)
                data = bytes(writer.encode(np.ascontiguousarray(compact), q))
                # both as the network sees them (at 4/3: full size), so that crops line up
                out.coded.append(scale.network_input(compact, w, h))
                out.decoded.append(scale.network_input(path.decode(data), w, h))
                out.image_index.append(i)
                out.quality.append(q)
                out.num_bytes.append(len(data))
                out.condition.append(condition_vector(condition, backend, q, data)[0])
    return out


def _mean_curve(cache: CodedSet, qualities) -> tuple[list[float], list[float]]:
    """Mean bits per pixel and MSE (images in [0, 1]) of ``cache``'s decoded
    images at each quality: the codec's rate-distortion curve on them."""
    bpp, mse = [], []
    for q in qualities:
        rows = []
        for k in (k for k, kq in enumerate(cache.quality) if kq == q):
            original = cache.originals[cache.image_index[k]]
            error = np.mean(np.square(original / 255.0 - cache.decoded[k] / 255.0))
            rows.append((8 * cache.num_bytes[k] / (original.shape[0] * original.shape[1]), error))
        bpp.append(float(np.mean([r[0] for r in rows])))
        mse.append(float(np.mean([r[1] for r in rows])))
    return bpp, mse


def make_batch(cache: CodedSet, step: int, seed: int, batch: int, crop: int, scale: int):
    """The batch of ``step``: a pure function of (seed, step).

    Returns float32 arrays in [0, 1]: originals (B, crop, crop, 3), decoded
    crops and the matching codec-input crops (B, crop/scale, crop/scale, 3),
    what the restoration network is told (B, K) and the codec quality / 100
    (B, 1). With a teacher's restorations in ``cache.taught`` at weight w, the
    "originals" are the targets (original + w x taught) / (1 + w): under MSE
    that is the distillation loss |y - original|^2 + w |y - taught|^2 up to a
    constant and a factor, so every loss and step serves it unchanged. Crops
    start on a multiple of 16 coded pixels (a JPEG 4:2:0 MCU, a WebP
    macroblock), so the pixel-unshuffle phase and the codec's block grid line
    up as they do on a whole image.
    """
    rng = np.random.default_rng([seed, step])
    small = crop // scale
    originals, taught, decoded, coded, condition, quality = [], [], [], [], [], []
    for _ in range(batch):
        k = int(rng.integers(len(cache.decoded)))
        dec = cache.decoded[k]
        y = 16 * int(rng.integers(max(1, (dec.shape[0] - small) // 16 + 1)))
        x = 16 * int(rng.integers(max(1, (dec.shape[1] - small) // 16 + 1)))
        orig = cache.originals[cache.image_index[k]]
        o = _pad_to(orig[y * scale : y * scale + crop, x * scale : x * scale + crop], crop)
        d = _pad_to(dec[y : y + small, x : x + small], small)
        c = _pad_to(cache.coded[k][y : y + small, x : x + small], small)
        flip, turns = bool(rng.integers(2)), int(rng.integers(4))
        originals.append(_augment(o, flip, turns))
        if cache.taught:
            t = _pad_to(cache.taught[k][y * scale : y * scale + crop, x * scale : x * scale + crop], crop)
            taught.append(_augment(t, flip, turns))
        decoded.append(_augment(d, flip, turns))
        coded.append(_augment(c, flip, turns))
        condition.append(cache.condition[k])
        quality.append([cache.quality[k] / 100.0])
    targets = _to_float(originals)
    if taught:
        targets = (targets + cache.taught_weight * _to_float(taught)) / (1.0 + cache.taught_weight)
    return (
        targets,
        _to_float(decoded),
        _to_float(coded),
        np.array(condition, np.float32),
        np.array(quality, np.float32),
    )


def _to_float(arrays) -> np.ndarray:
    return np.stack(arrays).astype(np.float32) / 255.0


def _pad_to(image: np.ndarray, side: int) -> np.ndarray:
    """Edge-pad a crop that ran off a small image up to ``side`` x ``side``."""
    pad_h, pad_w = side - image.shape[0], side - image.shape[1]
    if pad_h == 0 and pad_w == 0:
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _augment(image: np.ndarray, flip: bool, turns: int) -> np.ndarray:
    if flip:
        image = image[:, ::-1]
    return np.rot90(image, turns)


def batch_dataset(cache: CodedSet, config: TrainConfig, first_step: int, last_step: int):
    """A tf.data pipeline over steps [first_step, last_step): batches are cut
    in parallel (both cores) and prefetched, in deterministic step order."""
    import tensorflow as tf

    from ..coding import CONDITIONS

    small = config.crop // config.net_scale

    def cut(step):
        return make_batch(cache, int(step), config.seed, config.batch, config.crop, config.net_scale)

    def cut_tf(step):
        o, d, c, k, q = tf.numpy_function(cut, [step], [tf.float32] * 5, stateful=False)
        o.set_shape((config.batch, config.crop, config.crop, 3))
        d.set_shape((config.batch, small, small, 3))
        c.set_shape((config.batch, small, small, 3))
        k.set_shape((config.batch, CONDITIONS[config.condition]))
        q.set_shape((config.batch, 1))
        return o, d, c, k, q

    steps = tf.data.Dataset.range(first_step, last_step)
    return steps.map(cut_tf, num_parallel_calls=2, deterministic=True).prefetch(4)


# --------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------


def init_from(model, path) -> tuple[int, str]:
    """Copy weights from the model saved at ``path`` into ``model``, layer by layer
    in order, wherever the shapes match (a warm start from another codec's
    network); a deeper RecCNN gets identity layers in the middle. Returns how
    many layers were copied and the SHA-256 of the source's weights (the model card records it: run folders come and go,
    the hash names the shipped model it started from)."""
    import keras

    from .. import models  # noqa: F401  (registers the classes)
    from ..coding import CONDITIONS

    source = keras.models.load_model(path, safe_mode=True, compile=False)
    donors = [layer for layer in source.layers if layer.weights]
    targets = [layer for layer in model.layers if layer.weights]
    if _deeper_reccnn(model, source):
        # Net2DeeperNet (Chen et al. 2015, arXiv 1511.05641): the extra middle
        # convs start as the identity. Their inputs come out of a ReLU, so
        # ReLU(identity(x)) = x and the deeper network computes exactly what
        # the source did; the last layer goes to the last layer.
        extra = len(targets) - len(donors)
        for layer in targets[len(donors) - 1 : -1]:
            kernel, bias = (np.zeros_like(w) for w in layer.get_weights())
            kernel[1, 1] = np.eye(kernel.shape[2], dtype=kernel.dtype)
            layer.set_weights([kernel, bias])
        targets = targets[: len(donors) - 1] + targets[-1:]
        assert len(targets) == len(donors) and extra > 0
    copied = 0
    for layer, donor in zip(targets, donors, strict=True):
        weights = donor.get_weights()
        if [w.shape for w in weights] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(weights)
            copied += 1
        elif copied == 0 and _new_condition(source, model) and _grown_inputs(weights, layer.get_weights()):
            # The first conv of a network told more of the coding than the
            # source (quality -> JPEG tables): image and later planes keep
            # their weights, the new condition planes start at zero and the
            # old quality plane is folded into the bias at quality 30.
            old_k, new_k = CONDITIONS[source.condition], CONDITIONS[model.condition]
            kernel = np.zeros_like(layer.get_weights()[0])
            kernel[:, :, :3] = weights[0][:, :, :3]
            kernel[:, :, 3 + new_k :] = weights[0][:, :, 3 + old_k :]
            bias = weights[1] + 0.3 * weights[0][:, :, 3 : 3 + old_k].sum(axis=(0, 1, 2))
            layer.set_weights([kernel, bias])
            copied += 1
        elif _grown_inputs(weights, layer.get_weights()):
            # The same conv with input channels appended (e.g. BlockPosition
            # planes): copy the old channels, zero the new ones, so the warm
            # start computes exactly what the source did.
            kernel = np.zeros_like(layer.get_weights()[0])
            kernel[:, :, : weights[0].shape[2]] = weights[0]
            layer.set_weights([kernel, *weights[1:]])
            copied += 1
    return copied, models.weights_sha256(source)


def _new_condition(source, model) -> bool:
    """True when ``model`` takes another condition vector than ``source`` (quality -> tables)."""
    return getattr(source, "condition", "quality") != getattr(model, "condition", "quality")


def _deeper_reccnn(model, source) -> bool:
    """True when ``model`` is ``source``, a RecCNN without batch norm, with more layers."""
    from ..models import RecCNN

    if not (isinstance(model, RecCNN) and isinstance(source, RecCNN)):
        return False
    a, b = source.get_config(), model.get_config()
    same = all(a.get(k) == b.get(k) for k in ("scale", "width", "half_resolution", "block"))
    return same and not a.get("batch_norm") and not b.get("batch_norm") and b["depth"] > a["depth"]


def _grown_inputs(old, new) -> bool:
    """True when ``new`` is a conv layer's weights with more input channels than ``old``."""
    if len(old) != len(new) or not old or old[0].ndim != 4:
        return False
    (kh, kw, cin, cout), shape = old[0].shape, new[0].shape
    return (shape[:2] == (kh, kw) and shape[2] > cin and shape[3] == cout
            and [w.shape for w in old[1:]] == [w.shape for w in new[1:]])


def _strategy(distribute: bool):
    """MirroredStrategy over the local GPUs (or, with none, the logical CPUs:
    that is how the tests exercise it), else the default no-op strategy."""
    import tensorflow as tf

    if not distribute:
        return tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def checkpoint_names(model, optimizer) -> dict[int, str]:
    """The names a checkpoint keys ``model``'s weights and ``optimizer``'s
    variables by (id of the variable -> name): the variable paths a fresh
    process gives them. Keras numbers unnamed layers by a process-wide counter
    (``conv2d_7`` where an earlier model took ``conv2d`` to ``conv2d_6``), so
    its own paths would not resume in a process that built other networks
    first: here each layer is numbered among the model's own layers of its
    kind, in order. An optimizer's slot is named after the weight it follows."""
    import re

    seen: dict[str, int] = {}
    layer_names = {}
    for layer in model.layers:
        kind = re.sub(r"_\d+$", "", layer.name)
        count = seen[kind] = seen.get(kind, -1) + 1
        layer_names[layer.name] = f"{kind}_{count}" if count else kind
    names, slots = {}, {}
    for v in model.weights:
        parts = v.path.split("/")
        names[id(v)] = "/".join(layer_names.get(part, part) for part in parts)
        slots[v.path.replace("/", "_")] = names[id(v)].replace("/", "_")
    for v in optimizer.variables:  # "conv2d_7_kernel_momentum": the slot of conv2d_7/kernel
        own = max((key for key in slots if v.name.startswith(key + "_")), key=len, default=None)
        names[id(v)] = slots[own] + v.name[len(own):] if own else v.name
    if len(set(names.values())) != len(names):
        raise HybridCodecError(f"{model.name}: two variables share a checkpoint name")
    return names


class Trainer:
    """One training run: data, models, optimizers, checkpoints and the model card."""

    def __init__(self, config: TrainConfig, log=print):
        import keras

        from ..models import PRE_MODELS, RESTORATION_MODELS
        from .losses import get_loss

        self.config, self.log = config, log
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.loss_fn = get_loss(config.loss)
        self.strategy = _strategy(config.distribute)
        if config.model not in RESTORATION_MODELS:
            raise ValueError(f"unknown model {config.model!r}; choose from {', '.join(RESTORATION_MODELS)}")
        paths = list_images(config.data)
        if not paths:
            raise ValueError(f"no images in {config.data}")
        self.train_images = [read_rgb(p) for p in paths]
        if config.add_downscaled:
            self.train_images += [downscaled(image, config.add_downscaled) for image in self.train_images]
        self.val_images = [read_rgb(p) for p in list_images(config.val)] if config.val else []

        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.post = RESTORATION_MODELS[config.model](scale=config.net_scale, **config.model_kwargs)
            self.pre = None
            if config.mode == "joint":
                pre_class = PRE_MODELS[config.pre_model]
                self.pre = pre_class(scale=config.net_scale) if config.pre_model == "comcnn" else pre_class()
            schedule = keras.optimizers.schedules.CosineDecay(config.lr, config.steps, alpha=0.05)
            self.post_opt = keras.optimizers.Adam(schedule)
            self.post_opt.build(self.post.trainable_variables)
            if self.pre is not None:
                self.pre_opt = keras.optimizers.Adam(schedule)
                self.pre_opt.build(self.pre.trainable_variables)
            self.disc = None
            if config.adversarial is not None:
                from .adversarial import patch_discriminator

                self.disc = patch_discriminator()
                self.disc_opt = keras.optimizers.Adam(schedule, beta_1=0.5)  # GANs' usual momentum
                self.disc_opt.build(self.disc.trainable_variables)
        if config.init:
            copied, self.init_sha256 = init_from(self.post, config.init)
            self.log(f"initialised {copied} layers from {config.init}")
        self.teacher = self._load_teacher(config.teacher) if config.teacher else None
        self.step = 0
        self.history: list[dict] = []
        self.rate: dict | None = None  # the rate-aware step's calibration (rate.json)
        self._pre_steps = 0  # ComCNN updates so far in this process: the cache is stale when they change
        self._build_steps()

    def _load_teacher(self, path):
        """The distillation teacher, refused in one line unless it restores
        what this run's network restores (the same condition and scale)."""
        from ..models import weights_sha256
        from ..zoo import load_keras_file

        teacher = load_keras_file(path)
        theirs = (getattr(teacher, "condition", None), int(getattr(teacher, "scale", 0)))
        ours = (self.post.condition, int(self.post.scale))
        if theirs != ours:
            raise HybridCodecError(f"--teacher {path} restores condition {theirs[0]!r} at scale {theirs[1]}; "
                                   f"this run's network, {ours[0]!r} at scale {ours[1]}")
        self.teacher_sha256 = weights_sha256(teacher)
        return teacher

    # -- steps ---------------------------------------------------------------

    def _build_steps(self):
        import tensorflow as tf

        replicas = self.strategy.num_replicas_in_sync
        loss_fn, post, pre = self.loss_fn, self.post, self.pre

        def post_step(original, decoded, condition):
            with tf.GradientTape() as tape:
                loss = loss_fn(original, post([decoded, condition], training=True))
                scaled = loss / replicas
            grads = tape.gradient(scaled, post.trainable_variables)
            self.post_opt.apply_gradients(zip(grads, post.trainable_variables, strict=False))
            return loss

        @tf.function
        def adversarial_post_step(original, decoded, condition):
            """The loss plus the GAN term for the network, then one step of
            the discriminator on the same crops; returns the loss, the GAN
            term and the discriminator's loss (0.25: it cannot tell them apart)."""
            from .adversarial import discriminator_loss, generator_loss, judged

            disc, weight = self.disc, self.config.adversarial
            with tf.GradientTape() as tape:
                restored = post([decoded, condition], training=True)
                loss = loss_fn(original, restored)
                fooled = generator_loss(disc(judged(restored, decoded), training=False))
                total = loss + weight * fooled
            grads = tape.gradient(total, post.trainable_variables)
            self.post_opt.apply_gradients(zip(grads, post.trainable_variables, strict=False))
            with tf.GradientTape() as tape:
                verdict = discriminator_loss(disc(judged(original, decoded), training=True),
                                             disc(judged(tf.stop_gradient(restored), decoded), training=True))
            grads = tape.gradient(verdict, disc.trainable_variables)
            self.disc_opt.apply_gradients(zip(grads, disc.trainable_variables, strict=False))
            return loss, fooled, verdict

        def pre_step(original, decoded, coded, condition):
            with tf.GradientTape() as tape:
                compact = pre(original, training=True)
                # Straight-through codec: forward adds the real coding error of
                # this crop and rounds to 8 bits; backward is the identity.
                through_codec = compact + tf.stop_gradient(decoded - coded)
                through_codec += tf.stop_gradient(tf.round(through_codec * 255.0) / 255.0 - through_codec)
                loss = loss_fn(original, post([through_codec, condition], training=False))
                scaled = loss / replicas
            grads = tape.gradient(scaled, pre.trainable_variables)
            self.pre_opt.apply_gradients(zip(grads, pre.trainable_variables, strict=False))
            return loss

        def distributed(fn):
            @tf.function
            def run(*args):
                per_replica = self.strategy.run(fn, args=args)
                return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

            return run

        self._post_step = distributed(post_step)
        self._adversarial_step = adversarial_post_step  # one device: TrainConfig refuses --distribute
        self._pre_step = distributed(pre_step) if pre is not None else None

        @tf.function
        def rate_step(original, condition, quality, luma, chroma, lam, anchor):
            """The rate-aware ComCNN step; returns (loss, distortion, bits per pixel)
            with distortion the MSE relative to the plain codec's at that quality."""
            from . import diffjpeg

            with tf.GradientTape() as tape:
                edited = pre([original, quality], training=True)
                decoded, bits = diffjpeg.code(edited, luma, chroma, self.rate["weights"])
                restored = post([decoded, condition], training=False)
                mse = tf.reduce_mean(tf.square(original - restored), axis=(1, 2, 3))
                bpp = bits / tf.cast(tf.shape(original)[1] * tf.shape(original)[2], tf.float32)
                loss = tf.reduce_mean((mse + lam * bpp) / anchor)
            grads = tape.gradient(loss, pre.trainable_variables)
            self.pre_opt.apply_gradients(zip(grads, pre.trainable_variables, strict=False))
            return loss, tf.reduce_mean(mse / anchor), tf.reduce_mean(bpp)

        self._rate_step = rate_step

    # -- schedule --------------------------------------------------------------

    def _round_length(self) -> int:
        rounds = self.config.rounds if self.config.mode == "joint" else 1
        return max(1, math.ceil(self.config.steps / rounds))

    def _segment(self, step: int) -> tuple[str, int]:
        """The phase of ``step`` ('post' or 'pre') and the step where it ends.
        Joint rounds spend 2/3 on restoration, then 1/3 on the ComCNN; rate-aware
        rounds start with the pre-processor (half the round), since the
        restoration network is usually warm-started and the ComCNN is not."""
        length = self._round_length()
        start = step - step % length
        end = min(self.config.steps, start + length)
        if self.config.mode == "post":
            return "post", end
        if self.config.rate_weight is not None:
            middle = start + length // 2
            return ("pre", middle) if step < middle else ("post", end)
        middle = start + (2 * length) // 3
        return ("post", middle) if step < middle else ("pre", end)

    # -- the rate-aware step's calibration ---------------------------------------

    def calibrate_rate(self, plain: CodedSet | None = None) -> dict:
        """The rate proxy's weights, the encoder's tables and lambda per training
        quality (rate.json in the run folder, made once a run). ``plain``: the
        plain codec's cache of the training images, if at hand."""
        from . import rateproxy

        path = self.out / "rate.json"
        if path.exists():
            saved = json.loads(path.read_text())
        else:
            config = self.config
            backend = codecs.get_codec(config.codec)
            self.log("calibrating the rate proxy to the real encoder on crops of the training images")
            weights = rateproxy.calibrate(self.train_images, backend, config.qualities, seed=config.seed)
            if plain is None:
                plain = code_images(self.train_images, backend, config.qualities, scales.FULL)
            bpp, mse = _mean_curve(plain, config.qualities)
            order = np.argsort(bpp)
            slope = np.empty(len(bpp))
            slope[order] = -np.gradient(np.array(mse)[order], np.array(bpp)[order])
            saved = {
                "encoder": backend.library_version(), "weights": weights.tolist(),
                "tables": {str(q): rateproxy.tables(backend, q) for q in config.qualities},
                "plain": {str(q): {"bpp": b, "mse": m, "slope": s}
                          for q, b, m, s in zip(config.qualities, bpp, mse, slope, strict=True)},
            }
            path.write_text(json.dumps(saved, indent=1))
        for q, t in saved["tables"].items():
            if tuple(t["subsampling"]) != (2, 2):
                raise HybridCodecError(f"the differentiable JPEG models 4:2:0; the encoder writes "
                                       f"{t['subsampling']} at quality {q}")
        lookup = np.ones((101, 2, 8, 8), np.float32)  # per codec quality: luma and chroma tables
        lam = np.zeros(101, np.float32)
        anchor = np.ones(101, np.float32)
        for q, t in saved["tables"].items():
            lookup[int(q)] = np.array([t["luma"], t["chroma"]], np.float32).reshape(2, 8, 8)
            lam[int(q)] = self.config.rate_weight * max(saved["plain"][q]["slope"], 0.0)
            anchor[int(q)] = saved["plain"][q]["mse"]
        self.rate = {**saved, "lookup": lookup, "lambda": lam, "anchor": anchor}
        return self.rate

    def _post_batch(self, original, decoded, condition):
        """One restoration step; returns (loss, the terms to log)."""
        if self.disc is None:
            return self._post_step(original, decoded, condition), {}
        loss, fooled, verdict = self._adversarial_step(original, decoded, condition)
        return loss, {"adversarial": float(fooled), "discriminator": float(verdict)}

    def _rate_batch(self, original, condition, quality):
        """One rate-aware step on a batch: the tables and lambda of each crop's quality."""
        index = np.rint(np.asarray(quality)[:, 0] * 100).astype(int)
        tables = self.rate["lookup"][index]
        loss, distortion, bpp = self._rate_step(original, condition, quality, tables[:, 0], tables[:, 1],
                                                self.rate["lambda"][index], self.rate["anchor"][index])
        return loss, {"distortion": float(distortion), "proxy_bpp": float(bpp)}

    # -- checkpoints -----------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.npz"

    def _variables(self) -> dict[str, dict]:
        """Every variable of the run by checkpoint key, ``GROUP/PATH``: the
        networks' weights by layer and variable (``post/conv2d_1/kernel``), the
        optimizers' by the weight they follow (``post_opt/conv2d_1_kernel_momentum``)."""
        networks = [("post", self.post, self.post_opt)]
        if self.pre is not None:
            networks.append(("pre", self.pre, self.pre_opt))
        if self.disc is not None:
            networks.append(("disc", self.disc, self.disc_opt))
        variables = {}
        for group, model, optimizer in networks:
            keys = checkpoint_names(model, optimizer)
            variables.update({f"{group}/{keys[id(v)]}": v for v in model.weights})
            variables.update({f"{group}_opt/{keys[id(v)]}": v for v in optimizer.variables})
        return variables

    def _groups(self) -> dict[str, list]:
        """The variables in the order the index-keyed checkpoints of 0.8.0 and
        before stored them (``post/0``, ``post/1``, ...)."""
        groups = {"post": self.post.weights, "post_opt": self.post_opt.variables}
        if self.pre is not None:
            groups.update(pre=self.pre.weights, pre_opt=self.pre_opt.variables)
        return groups

    def save_checkpoint(self):
        from ..files import write_atomic

        arrays = {"step": np.array(self.step)}
        arrays.update({key: np.asarray(v.numpy()) for key, v in self._variables().items()})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_atomic(self.checkpoint_path, buffer.getvalue(), force=True)
        write_atomic(self.out / "history.json", json.dumps(self.history, indent=1).encode(), force=True)

    def load_checkpoint(self) -> bool:
        """Resume from the run folder's checkpoint: by key, or, for one
        written by 0.8.0 and before (keyed ``post/0``, ``post/1``, ...), in
        the order the networks hold their variables, as those versions did.
        A checkpoint of another network is refused in one line."""
        if not self.checkpoint_path.exists():
            return False
        with np.load(self.checkpoint_path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        step = int(arrays.pop("step"))
        if all(key.rsplit("/", 1)[-1].isdigit() for key in arrays):
            variables = {f"{group}/{k}": v for group, vs in self._groups().items() for k, v in enumerate(vs)}
        else:
            variables = self._variables()
        missing, extra = sorted(variables.keys() - arrays.keys()), sorted(arrays.keys() - variables.keys())
        wrong = [key for key in sorted(variables.keys() & arrays.keys())
                 if tuple(arrays[key].shape) != tuple(variables[key].shape)]
        if missing or extra or wrong:
            first = (f"no {missing[0]}" if missing else f"an unknown {extra[0]}" if extra
                     else f"{wrong[0]} of shape {arrays[wrong[0]].shape}, not {tuple(variables[wrong[0]].shape)}")
            raise HybridCodecError(f"{self.checkpoint_path} is not a checkpoint of this run's networks ({first}): "
                                   "run the command that made it, or choose another --out")
        for key, v in variables.items():
            v.assign(arrays[key])
        self.step = step
        history = self.out / "history.json"
        if history.exists():
            self.history = [h for h in json.loads(history.read_text()) if h["step"] <= self.step]
        return True

    # -- data ------------------------------------------------------------------

    def code(self, images, qualities) -> CodedSet:
        return code_images(images, self.config.codec, qualities, self.config.scale, self.pre,
                           self.config.encoders, self.config.condition)

    def code_training_set(self) -> CodedSet:
        """The training images through the real codec and, with a teacher,
        its restoration of each (once a cache: the teacher does not change)."""
        cache = self.code(self.train_images, self.config.qualities)
        if self.teacher is not None:
            self.log(f"restoring {len(cache.decoded)} files with the teacher {self.config.teacher}")
            cache.taught = self.restore(cache, self.teacher)
            cache.taught_weight = self.config.teacher_weight
        return cache

    def restore(self, cache: CodedSet, model=None) -> list[np.ndarray]:
        """The restoration of every decoded image of ``cache`` by ``model``
        (default: the network trained)."""
        from ..coding import run_post

        outputs = []
        for k, seen in enumerate(cache.decoded):
            h, w = cache.originals[cache.image_index[k]].shape[:2]
            outputs.append(run_post(self.post if model is None else model, seen, cache.condition[k][None], w, h))
        return outputs

    # -- validation ------------------------------------------------------------

    def validate(self) -> dict:
        """Mean PSNR on `val` at the validation qualities: the classical path at
        the same scale (identity or bicubic) and the network; their difference is
        the gain to watch from the first minutes of a run."""
        from ..metrics import psnr

        if not self.val_images:
            return {}
        cache = self.code(self.val_images, self.config.val_qualities)
        classical, restored = [], []
        outputs = self.restore(cache)
        for k, decoded in enumerate(cache.decoded):
            original = cache.originals[cache.image_index[k]]
            h, w = original.shape[:2]
            # what the network is given, upscaled if it does not upsample itself
            classical.append(psnr(original, scales.parse(self.config.net_scale).upscale(decoded, w, h)))
            restored.append(psnr(original, outputs[k][:h, :w]))
        pixels = [self.val_images[i].shape[0] * self.val_images[i].shape[1] for i in cache.image_index]
        return {
            "val_psnr_classical": float(np.mean(classical)),
            "val_psnr": float(np.mean(restored)),
            "val_gain_db": float(np.mean(restored) - np.mean(classical)),
            "val_bpp": float(np.mean([8 * b / n for b, n in zip(cache.num_bytes, pixels, strict=True)])),
        }

    # -- the run ---------------------------------------------------------------

    def run(self) -> Path:
        from tqdm import tqdm

        config = self.config
        if self.load_checkpoint():
            self.log(f"resumed from {self.checkpoint_path} at step {self.step}")
        elif config.init and self.val_images:
            # The donor's own figure, the one to beat; it also shows a donor
            # that trained on these validation photos (docs/MODELS.md).
            record = {"step": 0, "phase": "init", **self.validate()}
            self.log(json.dumps(record))
            self.history.append(record)
        started = time.monotonic()
        deadline = started + 60 * config.minutes if config.minutes else math.inf
        last_checkpoint = started
        bar = tqdm(total=config.steps, initial=self.step, desc=f"train {config.codec}", file=sys.stderr)
        cache, coded_after = None, None  # the cache and the ComCNN updates it was coded after
        while self.step < config.steps and time.monotonic() < deadline:
            phase, segment_end = self._segment(self.step)
            if cache is None or coded_after != self._pre_steps:
                self.log(f"step {self.step}: coding {len(self.train_images)} images x "
                         f"{len(config.qualities)} qualities with the real {config.codec} codec")
                cache, coded_after = self.code_training_set(), self._pre_steps
            if phase == "pre" and config.rate_weight is not None and self.rate is None:
                # at step 0 the PreEditor is the identity, so the cache is the plain codec's
                self.calibrate_rate(cache if self.step == 0 else None)
            dataset = batch_dataset(cache, config, self.step, segment_end)
            if self.strategy.num_replicas_in_sync > 1:  # each replica gets its share of the batch
                dataset = self.strategy.experimental_distribute_dataset(dataset)
            batches = iter(dataset)
            while self.step < segment_end and time.monotonic() < deadline:
                original, decoded, coded, condition, quality = next(batches)
                terms = {}
                if phase == "post":
                    loss, terms = self._post_batch(original, decoded, condition)
                elif config.rate_weight is not None:
                    loss, terms = self._rate_batch(original, condition, quality)
                else:
                    loss = self._pre_step(original, decoded, coded, condition)
                if phase == "pre":
                    self._pre_steps += 1
                self.step += 1
                bar.update(1)
                record = {"step": self.step, "phase": phase, "loss": float(loss), **terms}
                if self.step % config.val_every == 0 or self.step == config.steps:
                    record.update(self.validate())
                    self.log(json.dumps(record))
                    if "val_psnr" in record:
                        bar.set_postfix(loss=f"{record['loss']:.4f}", val_psnr=f"{record['val_psnr']:.2f}dB",
                                        gain=f"{record['val_gain_db']:+.2f}dB")
                elif self.step % 20 == 0:
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                    if terms:
                        self.log(json.dumps(record))
                self.history.append(record)
                if time.monotonic() - last_checkpoint > 60 * config.checkpoint_minutes:
                    self.save_checkpoint()
                    last_checkpoint = time.monotonic()
        bar.close()
        self.save_checkpoint()
        self.log(f"stopped at step {self.step} of {config.steps} after {time.monotonic() - started:.0f} s")
        return self.export(wall_seconds=time.monotonic() - started)

    def export(self, wall_seconds: float = 0.0) -> Path:
        """Save the model(s) as .keras and write the model card."""
        from ..models import weights_sha256

        card_path = self.out / "card.json"
        previous = json.loads(card_path.read_text()) if card_path.exists() else {}
        self.post.save(self.out / "post.keras")
        files = {"post": {"file": "post.keras", "sha256": weights_sha256(self.post),
                          "class": type(self.post).__name__, "params": self.post.count_params()}}
        if self.pre is not None:
            self.pre.save(self.out / "pre.keras")
            files["pre"] = {"file": "pre.keras", "sha256": weights_sha256(self.pre),
                            "class": type(self.pre).__name__, "params": self.pre.count_params()}
        card = {
            "command": previous.get("command", []) + [_command_line()],
            "config": self.config.as_json(),
            "data": {"train": str(self.config.data), "train_images": len(self.train_images),
                     "val": str(self.config.val), "val_images": len(self.val_images)},
            "steps": self.step,
            "wall_seconds": previous.get("wall_seconds", 0.0) + wall_seconds,
            "models": files,
            "warm_start": {"file": self.config.init, "sha256": self.init_sha256} if self.config.init else None,
            "teacher": ({"file": self.config.teacher, "sha256": self.teacher_sha256,
                         "weight": self.config.teacher_weight} if self.teacher is not None else None),
            "val": self.evaluate() if self.val_images else None,
        }
        card_path.write_text(json.dumps(card, indent=1))
        return card_path

    def evaluate(self) -> dict:
        """Per-quality val figures of the plain codec (scale 1, its default
        encoder) and of this model on that encoder's files, with BD-rate on
        PSNR-RGB and MS-SSIM (bjontegaard). A joint run warm-started from a
        restoration network also gets that network on the plain files
        ("anchor", post-only) and the BD-rates against it."""
        from ..coding import run_post
        from ..metrics import bd_rate, bpp, ms_ssim, psnr
        from ..zoo import load_keras_file

        qualities = self.config.qualities
        plain = code_images(self.val_images, self.config.codec, qualities, scales.FULL,
                            condition=self.config.condition)
        # the codec's default encoder alone, as plain (training may mix encoders)
        ours = code_images(self.val_images, self.config.codec, qualities, self.config.scale, self.pre,
                           condition=self.config.condition)
        restored = self.restore(ours)
        methods = [("plain", plain, plain.decoded), ("hybrid", ours, restored)]
        if self.pre is not None and self.config.init and self.config.scale.is_full:
            anchor = load_keras_file(self.config.init)
            methods.append(("anchor", plain, [
                run_post(anchor, d, plain.condition[k][None], d.shape[1], d.shape[0])
                for k, d in enumerate(plain.decoded)]))
        table = {"quality": qualities}
        for label, cache, outputs in methods:
            rows = {"bpp": [], "psnr-rgb": [], "ms-ssim-rgb": []}
            for q in qualities:
                ks = [k for k, kq in enumerate(cache.quality) if kq == q]
                figures = []
                for k in ks:
                    original = cache.originals[cache.image_index[k]]
                    h, w = original.shape[:2]
                    out = outputs[k][:h, :w]
                    figures.append((bpp(cache.num_bytes[k], w, h), psnr(original, out), ms_ssim(original, out)))
                for name, value in zip(rows, np.mean(figures, axis=0), strict=False):
                    rows[name].append(float(value))
            table[label] = rows
        plain, hybrid = table["plain"], table["hybrid"]
        table["bd_rate_psnr_percent"] = bd_rate(plain["bpp"], plain["psnr-rgb"], hybrid["bpp"], hybrid["psnr-rgb"])
        table["bd_rate_ms_ssim_percent"] = bd_rate(
            plain["bpp"], plain["ms-ssim-rgb"], hybrid["bpp"], hybrid["ms-ssim-rgb"])
        if "anchor" in table:
            anchor = table["anchor"]
            table["bd_rate_vs_anchor_psnr_percent"] = bd_rate(anchor["bpp"], anchor["psnr-rgb"],
                                                              hybrid["bpp"], hybrid["psnr-rgb"])
            table["bd_rate_vs_anchor_ms_ssim_percent"] = bd_rate(anchor["bpp"], anchor["ms-ssim-rgb"],
                                                                 hybrid["bpp"], hybrid["ms-ssim-rgb"])
        table["note"] = "bpp counts the codec payload only (the .hc header adds about 50 bytes)"
        return table


def model_options(model: str, depth=None, width=None, half_resolution=False, bfloat16=False,
                  condition=None) -> dict:
    """The shape keywords for ``model`` from the train command's options; a
    one-line HybridCodecError for options the model does not take (rather
    than a TypeError deep inside Keras)."""
    import inspect

    from ..models import RESTORATION_MODELS

    options = {"--depth": ("depth", depth), "--width": ("width", width),
               "--half-resolution": ("half_resolution", half_resolution),
               "--bfloat16": ("compute_dtype", "bfloat16" if bfloat16 else None),
               "--condition": ("condition", condition)}
    accepted = inspect.signature(RESTORATION_MODELS[model]._build).parameters
    unsupported = [flag for flag, (key, value) in options.items() if value and key not in accepted]
    if unsupported:
        raise HybridCodecError(f"--model {model} has no {', '.join(unsupported)} option")
    return {key: value for key, value in options.values() if value}


def _command_line() -> str:
    """This invocation as a user would type it (``python -m`` shows a file path)."""
    return shlex.join(["hybridcodec", *sys.argv[1:]])


def train(config: TrainConfig, log=None) -> Path:
    """Train (or resume) the run in ``config.out``; returns the model card's path."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "a", buffering=1) as log_file:

        def both(message: str):
            print(message, file=log_file)
            if log is not None:
                log(message)

        print(f"$ {_command_line()}", file=log_file)  # the user typed it: the run's own log alone
        return Trainer(config, both).run()
