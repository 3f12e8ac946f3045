"""The adversarial term of ``hybridcodec train --adversarial W`` (issue #40,
item 4): a small patch discriminator learns to tell what the coding took
from an original crop from what the network puts back, and the network is
pushed towards corrections it takes for the true ones, beside its loss.
Least-squares GAN (Mao et al. 2017): the simplest of the stable forms, no
sigmoid to saturate. The discriminator is training's alone: the
restoration network, its size and its decode cost do not change.
"""

from __future__ import annotations

WIDTH = 32  # channels of the first layer, doubled at each of the two further strides
# The discriminator judges the correction, candidate - decoded, not the
# image: shown images, it could not tell JPEG q40 files of 4 training
# photos from their originals in 400 steps (128-pixel crops, loss stuck at
# chance, 0.25), the artefacts a few levels against the photo's whole
# range; shown corrections (x10), it told a 3x3 blur's from the true one in
# 50 steps (loss 0.12). So it asks of the network a correction with the
# texture of the coding error removed, not a photo in general.
RESIDUAL_GAIN = 10.0


def patch_discriminator(width: int = WIDTH):
    """Scores every 8x8 cell of a correction (``judged``) from the 38x38
    pixels around it: 1 for an original's, 0 for a restoration's. Float32
    throughout: it is small, and a bfloat16 score would be too coarse for
    the least-squares target."""
    import keras
    from keras import layers

    image = keras.Input((None, None, 3), name="image")
    x = image
    for k in range(3):
        x = layers.Conv2D(width << k, 4, strides=2, padding="same", dtype="float32")(x)
        x = layers.LeakyReLU(0.2, dtype="float32")(x)
    score = layers.Conv2D(1, 3, padding="same", dtype="float32")(x)
    return keras.Model(image, score, name="patch_discriminator")


def judged(candidate, decoded):
    """What the discriminator sees of a candidate (original or restored)."""
    return RESIDUAL_GAIN * (candidate - decoded)


def generator_loss(fake_scores):
    """What the restoration network minimises: its crops scored as originals."""
    import tensorflow as tf

    return tf.reduce_mean(tf.square(fake_scores - 1.0))


def discriminator_loss(real_scores, fake_scores):
    import tensorflow as tf

    return 0.5 * (tf.reduce_mean(tf.square(real_scores - 1.0)) + tf.reduce_mean(tf.square(fake_scores)))
