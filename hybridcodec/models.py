"""The Keras 3 networks: ComCNN (pre-processing) and the restoration models.

The contract every model keeps (the pipeline relies on it and nothing else):

* Images are float32 in [0, 1], channels last, batch first.
* A **pre-processor** maps an image (N, H, W, 3) to its compact version
  (N, ceil(H/s), ceil(W/s), 3), with the scale ``s`` (1 or 2) in its config.
* A **restoration model** takes ``[decoded, condition]``: the decoded image at
  its coded size (N, h, w, 3) and what the decoder knows of the coding, a
  vector whose meaning the model's ``condition`` names (coding.CONDITIONS):
  ``"quality"``, the codec quality divided by 100 (N, 1), the first contract;
  ``"jpeg-tables"``, 8 features of the JPEG file's own quantization tables
  and chroma subsampling (N, 8), so that one network serves every JPEG
  encoder. It returns the image at full size (N, s*h, s*w, 3); the caller crops.

Every class here is a ``keras.Model`` subclass registered as serializable, so
``.keras`` files load with ``keras.models.load_model`` in safe mode: no Lambda
layers anywhere, only the small layers defined below.
"""

from __future__ import annotations

import inspect

import keras
from keras import layers, ops

from . import names
from .coding import CONDITIONS
from .runtime import cpu_flags

PACKAGE = "hybridcodec"


# --------------------------------------------------------------------------
# Small layers (the building blocks that Lambda layers would otherwise be)
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(PACKAGE)
class QualityPlane(layers.Layer):
    """Concatenate the condition vector (N, K), the quality for K = 1, to a
    feature map as K constant planes."""

    def call(self, inputs):
        image, quality = inputs
        shape = ops.shape(image)
        features = quality.shape[-1]
        plane = ops.ones((shape[0], shape[1], shape[2], 1), dtype=image.dtype)
        plane = plane * ops.reshape(ops.cast(quality, image.dtype), (-1, 1, 1, features))
        return ops.concatenate([image, plane], axis=-1)


@keras.saving.register_keras_serializable(PACKAGE)
class BlockPosition(layers.Layer):
    """Append where each pixel sits in the codec's block grid: one-hot planes of
    ``row mod period`` and ``column mod period`` (2 x period channels).

    A 3x3 stack with a 17-pixel receptive field cannot tell a block edge from
    an image edge in texture; the codec's grid starts at the image origin, so
    the position is known exactly. Tiles must start on multiples of
    ``period`` (the pipeline's tile origins are multiples of 16 coded pixels).
    """

    def __init__(self, period=8, **kwargs):
        super().__init__(**kwargs)
        self.period = period

    def call(self, x):
        n, h, w = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        p = self.period
        rows = ops.one_hot(ops.mod(ops.arange(h), p), p, dtype=x.dtype)  # (h, p)
        cols = ops.one_hot(ops.mod(ops.arange(w), p), p, dtype=x.dtype)  # (w, p)
        rows = ops.broadcast_to(rows[None, :, None, :], (n, h, w, p))
        cols = ops.broadcast_to(cols[None, None, :, :], (n, h, w, p))
        return ops.concatenate([x, rows, cols], axis=-1)

    def get_config(self):
        return {**super().get_config(), "period": self.period}


@keras.saving.register_keras_serializable(PACKAGE)
class PixelUnshuffle(layers.Layer):
    """Space-to-depth: (N, H, W, C) -> (N, H/f, W/f, C*f*f). H and W must be multiples of f."""

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        f = self.factor
        n, h, w, c = ops.shape(x)
        x = ops.reshape(x, (n, h // f, f, w // f, f, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (n, h // f, w // f, f * f * c))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(PACKAGE)
class PixelShuffle(layers.Layer):
    """Depth-to-space (Shi et al. 2016): (N, h, w, C*f*f) -> (N, h*f, w*f, C)."""

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        f = self.factor
        n, h, w, c = ops.shape(x)
        x = ops.reshape(x, (n, h, w, f, f, c // (f * f)))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (n, h * f, w * f, c // (f * f)))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(PACKAGE)
class PadToMultiple(layers.Layer):
    """Edge-pad height and width up to a multiple of ``multiple``."""

    def __init__(self, multiple=2, **kwargs):
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, x):
        # Repeat the last row and column (a symmetric pad cannot pad a 1-pixel
        # image to 4; for one pixel of padding the two are the same).
        m = self.multiple
        shape = ops.shape(x)
        x = ops.concatenate([x, ops.repeat(x[:, -1:], (-shape[1]) % m, axis=1)], axis=1)
        return ops.concatenate([x, ops.repeat(x[:, :, -1:], (-shape[2]) % m, axis=2)], axis=2)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(PACKAGE)
class CropLike(layers.Layer):
    """Crop ``x`` to ``scale`` times the height and width of ``reference``."""

    def __init__(self, scale=1, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1] * self.scale, : shape[2] * self.scale, :]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(PACKAGE)
class ClipUnit(layers.Layer):
    """Clip to [0, 1] in the forward pass, identity gradient (straight-through).

    Plain clipping would stop the gradient of every saturated pixel, which
    stalls training on bright skies and dark shadows.
    """

    def call(self, x):
        return x + ops.stop_gradient(ops.clip(x, 0.0, 1.0) - x)


def _conv(filters, kernel=3, **kwargs):
    return layers.Conv2D(filters, kernel, padding="same", **kwargs)


def bfloat16_is_fast() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX).

    A RecCNN whose config asks for bfloat16 runs in float32 elsewhere: the
    same weights, outputs within 0.001 dB, but emulated bfloat16 would be slow.
    """
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def _hidden_dtype(compute_dtype: str):
    """The dtype policy of a stack's hidden layers: float32 variables, bfloat16
    arithmetic where asked for and fast here. Inputs, the last layer and the
    residual sum stay float32: a bfloat16 image would be off by a grey level."""
    if compute_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"compute_dtype must be float32 or bfloat16, not {compute_dtype!r}")
    return "mixed_bfloat16" if compute_dtype == "bfloat16" and bfloat16_is_fast() else "float32"


class _ConfiguredModel(keras.Model):
    """A functional model built from a few config numbers.

    Subclasses implement ``_build(**config)`` returning (inputs, outputs); the
    config is what ``get_config`` stores, so ``.keras`` files stay small and
    the class reloads in safe mode.
    """

    role = "post"  # "pre" for pre-processors

    def __init__(self, name=None, **config):
        # Store every argument of _build, defaults included, so the config is complete.
        defaults = {k: p.default for k, p in inspect.signature(self._build).parameters.items()}
        config = {**defaults, **config}
        inputs, outputs = self._build(**config)
        super().__init__(inputs=inputs, outputs=outputs, name=name or type(self).__name__.lower())
        self._hc_config = config
        self.scale = config.get("scale", 1)
        self.condition = config.get("condition", "quality")

    def get_config(self):
        return {"name": self.name, **self._hc_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _restoration_inputs(condition="quality"):
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, not {condition!r}")
    decoded = keras.Input((None, None, 3), name="decoded")
    quality = keras.Input((CONDITIONS[condition],), name="quality")
    return decoded, quality


def _upsampled_base(decoded, scale):
    """The classical estimate that restoration models learn a residual over."""
    if scale == 1:
        return decoded
    return layers.UpSampling2D(scale, interpolation="bicubic", name="bicubic")(decoded)


# --------------------------------------------------------------------------
# Pre-processing
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(PACKAGE)
class ComCNN(_ConfiguredModel):
    """Compact representation CNN of Jiang et al. 2017, "An End-to-End
    Compression Framework Based on Convolutional Neural Networks"
    (arXiv 1708.00838), section 3.1::

        edge-pad to a multiple of s
        conv 3x3x64 + ReLU
        conv 3x3x64, stride s + BatchNorm + ReLU
        conv 3x3x3
        (+ s x s average pooling of the input, then clip to [0, 1])

    One change from the paper: the network learns a residual over the
    average-pooled image (the classical area downscale), with a zero-initialised
    last layer, so an untrained ComCNN *is* the classical path and training can
    only move away from it when that lowers the loss.
    """

    role = "pre"

    def _build(self, scale=2, width=64):
        image = keras.Input((None, None, 3), name="image")
        # Even sizes first: TensorFlow's "same" padding of a stride-2 conv
        # shifts the sampling grid by one pixel on odd sizes, so the output
        # of a tile would differ from the same region of the whole image.
        padded = PadToMultiple(scale)(image)
        x = _conv(width, activation="relu")(padded)
        x = _conv(width, strides=scale)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        residual = _conv(3, kernel_initializer="zeros")(x)
        base = padded if scale == 1 else layers.AveragePooling2D(scale)(padded)
        compact = ClipUnit()(layers.Add()([base, residual]))
        return image, compact


@keras.saving.register_keras_serializable(PACKAGE)
class PreEditor(_ConfiguredModel):
    """The ComCNN of Jiang et al. 2017 at scale 1: a pre-editor, which edits
    the image before the codec so that it codes in fewer bits for what the
    restoration network gives back (Talebi et al. 2020, "Better Compression
    with Deep Pre-Editing"; trained with a rate term, issue #23)::

        [image, quality plane, block position (period 16)]
        (depth - 1) x (conv 3x3 x width + ReLU)
        conv 3x3x3 (zero-initialised) -> residual added to the image, clipped

    Contract: inputs ``[image, quality]``, the image (N, H, W, 3) in [0, 1]
    and the codec's own quality / 100 (N, 1) it will be coded at, the
    quality the file's header records; output the edited image, same size.
    The block position (16: a 4:2:0 MCU, covering luma's 8x8 grid) lets it
    edit where the codec's blocks are; tiles start on multiples of 16. An
    untrained PreEditor returns the image unchanged.
    """

    role = "pre"

    def _build(self, depth=5, width=32):
        image = keras.Input((None, None, 3), name="image")
        quality = keras.Input((1,), name="quality")
        x = BlockPosition(16)(QualityPlane()([image, quality]))
        for _ in range(depth - 1):
            x = _conv(width, activation="relu")(x)
        residual = _conv(3, kernel_initializer="zeros")(x)
        return [image, quality], ClipUnit()(layers.Add()([image, residual]))


PRE_MODELS = names.resolve(names.PRE_MODELS, globals())  # names.py: listed without importing Keras


# --------------------------------------------------------------------------
# Restoration
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(PACKAGE)
class RecCNN(_ConfiguredModel):
    """Reconstruction CNN of Jiang et al. 2017 (arXiv 1708.00838), section 3.2,
    sized for a 2-core CPU by default::

        bicubic upsample (scale 2) -> [image, quality plane]
        conv 3x3 x width + ReLU
        (depth - 2) x (conv 3x3 x width [+ BatchNorm] + ReLU)
        conv 3x3x3 (zero-initialised) -> residual added to the upsampled image

    ``RecCNN.paper()`` is the paper's network: depth 20, width 64, batch norm.
    It restores 768x512 in about 2.6 s here; the default (depth 8, width 32,
    no batch norm) in about 0.2 s.

    ``half_resolution=True`` runs the stack at half the output resolution
    (pixel unshuffle in, pixel shuffle out, Shi et al. 2016), a quarter of the
    multiply-adds per layer. Measured on JPEG (600 steps each, same data and
    seed, gain over the decoded image on validation crops at quality
    10/30/50): half resolution 10x64 +0.28/+0.15/+0.12 dB, full resolution
    8x32 +0.63/+0.71/+0.71 dB, at the same restore time. Block artefacts are
    a full-resolution pattern, so the default stays at full resolution.

    ``block=P`` (full resolution only) appends the position of each output
    pixel in a grid of period P (``BlockPosition``): 8 for JPEG's 8x8 DCT at
    scale 1, 16 for its 4:2:0 chroma blocks or at scale 2.

    ``compute_dtype="bfloat16"`` runs the hidden convs in bfloat16 (weights
    stay float32) on CPUs that have it: 1.6x faster to restore and 2x faster
    to train here, so a 16x32 stack restores 768x512 in the time a float32
    10x32 takes; the same model in float32 differs by under 0.001 dB on val.
    """

    def _build(self, scale=1, depth=8, width=32, half_resolution=False, batch_norm=False, block=0,
               compute_dtype="float32", condition="quality"):
        decoded, quality = _restoration_inputs(condition)
        base = _upsampled_base(decoded, scale)
        if half_resolution:
            if scale == 1:
                padded = PadToMultiple(2)(base)
                x = PixelUnshuffle(2)(padded)
            else:
                padded, x = base, decoded
            x = QualityPlane()([x, quality])
            out_channels = 12
        else:
            padded, x = base, QualityPlane()([base, quality])
            if block:
                x = BlockPosition(block)(x)
            out_channels = 3
        hidden = _hidden_dtype(compute_dtype)
        x = _conv(width, activation="relu", dtype=hidden)(x)
        for _ in range(depth - 2):
            x = _conv(width, use_bias=not batch_norm, dtype=hidden)(x)
            if batch_norm:
                x = layers.BatchNormalization()(x)
            x = layers.ReLU(dtype=hidden)(x)
        residual = _conv(out_channels, kernel_initializer="zeros", dtype="float32")(x)
        if half_resolution:
            residual = PixelShuffle(2)(residual)
        restored = layers.Add()([padded, residual])
        return [decoded, quality], CropLike(scale)([restored, decoded])

    @classmethod
    def paper(cls, scale=2):
        """The configuration of the paper: 20 layers of 3x3x64 with batch norm, full resolution."""
        return cls(scale=scale, depth=20, width=64, batch_norm=True)


@keras.saving.register_keras_serializable(PACKAGE)
class RecUNet(_ConfiguredModel):
    """RecCNN's job done on three scales, in the manner of U-Net (Ronneberger
    et al. 2015, arXiv 1505.04597), for the same CPU budget::

        bicubic upsample (scale 2), pad to a multiple of 4 -> [image, quality plane]
        full:    2 x conv 3x3 x w + ReLU                       -> skip0
        half:    conv 3x3 x 2w stride 2, n x conv 3x3 x 2w     -> skip1
        quarter: conv 3x3 x 4w stride 2, n x conv 3x3 x 4w
        up:      conv 1x1 + pixel shuffle (Shi et al. 2016), add skip1, conv 3x3 x 2w
        up:      conv 1x1 + pixel shuffle, add skip0, conv 3x3 x w
        conv 3x3x3 (zero-initialised) -> residual added to the upsampled image

    A 3x3 conv on 4w channels at quarter resolution costs what one on w
    channels costs at full resolution, but sees 4x as far: a receptive field
    about 50 pixels across (RecCNN 8x32: 17), which spans the 16x16
    macroblocks of WebP and the larger transforms of AVIF and JPEG XL. The
    full-resolution path keeps the block-grid detail that a half-resolution
    stack loses (see ``RecCNN``). Measured (docs/MODELS.md): as good as
    RecCNN 8x32 after 400 steps on JPEG, slower to learn from scratch on WebP.
    Shipped as the light networks of JPEG, WebP and AVIF (width 16, 20.5-21.5
    kMAC a pixel): they keep 74-76% of their full networks' PSNR gain where
    RecCNNs of the same arithmetic kept 60-64% (docs/DECISIONS.md).
    """

    def _build(self, scale=1, width=24, blocks=2, compute_dtype="float32", condition="quality"):
        decoded, quality = _restoration_inputs(condition)
        base = PadToMultiple(4)(_upsampled_base(decoded, scale))
        x = QualityPlane()([base, quality])
        hidden = _hidden_dtype(compute_dtype)

        def conv(filters, kernel=3, **kwargs):
            return _conv(filters, kernel, dtype=hidden, **kwargs)

        skip0 = conv(width, activation="relu")(conv(width, activation="relu")(x))
        x = conv(2 * width, strides=2, activation="relu")(skip0)
        for _ in range(blocks):
            x = conv(2 * width, activation="relu")(x)
        skip1 = x
        x = conv(4 * width, strides=2, activation="relu")(x)
        for _ in range(blocks):
            x = conv(4 * width, activation="relu")(x)
        x = PixelShuffle(2, dtype=hidden)(conv(8 * width, 1)(x))
        x = conv(2 * width, activation="relu")(layers.Add(dtype=hidden)([x, skip1]))
        x = PixelShuffle(2, dtype=hidden)(conv(4 * width, 1)(x))
        x = conv(width, activation="relu")(layers.Add(dtype=hidden)([x, skip0]))
        residual = _conv(3, kernel_initializer="zeros", dtype="float32")(x)
        restored = layers.Add()([base, residual])
        return [decoded, quality], CropLike(scale)([restored, decoded])


@keras.saving.register_keras_serializable(PACKAGE)
class ARCNN(_ConfiguredModel):
    """Artifacts Reduction CNN of Dong et al. 2015, "Compression Artifacts
    Reduction by a Deep Convolutional Network" (ICCV 2015)::

        conv 9x9x64 + ReLU   (feature extraction)
        conv 7x7x32 + ReLU   (feature enhancement)
        conv 1x1x16 + ReLU   (mapping)
        conv 5x5x3           (reconstruction, the image itself: no residual)

    With the quality plane appended to the input (hybridcodec's contract) and
    a bicubic upsample first where the scale is 2.
    """

    def _build(self, scale=1):
        decoded, quality = _restoration_inputs()
        base = _upsampled_base(decoded, scale)
        x = QualityPlane()([base, quality])
        x = _conv(64, 9, activation="relu")(x)
        x = _conv(32, 7, activation="relu")(x)
        x = _conv(16, 1, activation="relu")(x)
        return [decoded, quality], _conv(3, 5)(x)


@keras.saving.register_keras_serializable(PACKAGE)
class ARCNNASPP(_ConfiguredModel):
    """ARCNN whose feature-enhancement stage is an atrous spatial pyramid
    pooling block (Chen et al. 2017, DeepLab v3, arXiv 1706.05587), plus a
    global residual connection::

        conv 9x9x64 + ReLU
        ASPP: [conv 1x1x32, conv 3x3x32 dilation d for d in rates] + ReLU,
              concatenated, fused by conv 1x1x32 + ReLU
        conv 1x1x16 + ReLU
        conv 5x5x3 -> residual added to the (upsampled) decoded image

    Dilations 1, 2, 4, 8 give a receptive field that spans neighbouring 8x8
    codec blocks, where plain ARCNN sees about one block.
    """

    def _build(self, scale=1, rates=(1, 2, 4, 8)):
        decoded, quality = _restoration_inputs()
        base = _upsampled_base(decoded, scale)
        x = QualityPlane()([base, quality])
        x = _conv(64, 9, activation="relu")(x)
        branches = [_conv(32, 1, activation="relu")(x)]
        branches += [_conv(32, 3, dilation_rate=r, activation="relu")(x) for r in rates]
        x = _conv(32, 1, activation="relu")(layers.Concatenate()(branches))
        x = _conv(16, 1, activation="relu")(x)
        residual = _conv(3, 5, kernel_initializer="zeros")(x)
        return [decoded, quality], layers.Add()([base, residual])

    def get_config(self):
        config = super().get_config()
        if "rates" in config:
            config["rates"] = list(config["rates"])
        return config


RESTORATION_MODELS = names.resolve(names.RESTORATION_MODELS, globals())


def weights_sha256(model: keras.Model) -> str:
    """SHA-256 of a model's weights: every variable's shape, dtype and bytes,
    in the model's own order. Independent of the ``.keras`` file, which
    stores its save date. Specified in docs/FORMAT.md."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weight in model.weights:
        array = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
