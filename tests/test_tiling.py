"""Tiled inference gives the untiled result: the overlap covers every receptive field."""

import numpy as np
import pytest

pytest.importorskip("keras")

from hybridcodec.coding import run_post, run_pre  # noqa: E402
from hybridcodec.metrics import psnr  # noqa: E402
from hybridcodec.models import ARCNNASPP, ComCNN, RecCNN, RecUNet  # noqa: E402


def perturbed(model):
    """Random non-zero kernels: an untrained RecCNN would be the identity and hide errors."""
    rng = np.random.default_rng(0)
    model.set_weights([w + (w.ndim == 4) * rng.normal(0, 0.05, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def big(photo):
    from skimage import data

    return np.ascontiguousarray(np.tile(data.astronaut(), (1, 2, 1))[:301, :517])  # odd sizes


@pytest.mark.parametrize("make", [lambda: RecCNN(scale=1, depth=6, width=16, half_resolution=True),
                                  lambda: RecCNN(scale=2, depth=6, width=16),
                                  lambda: RecCNN(scale=2, depth=20, width=8),
                                  lambda: RecCNN(scale=1, depth=6, width=16, block=16),
                                  lambda: RecCNN(scale=2, depth=6, width=16, block=32),
                                  lambda: RecUNet(scale=1, width=8, blocks=3),
                                  lambda: RecUNet(scale=2, width=8),
                                  lambda: ARCNNASPP(scale=1)])
def test_tiled_restoration_matches_whole_image(make, big):
    model = perturbed(make())
    decoded = big[:: model.scale, :: model.scale]
    h, w = big.shape[:2]
    quality = np.array([[0.4]], np.float32)
    whole = run_post(model, decoded, quality, w, h, tile=10**6)
    tiled = run_post(model, decoded, quality, w, h, tile=96)
    assert whole.shape == tiled.shape == big.shape
    assert psnr(whole, tiled) > 60  # identical up to float summation order


def test_too_little_overlap_is_seen(big):
    """The check above can fail: with 8 pixels of context instead of
    coding.OVERLAP, RecUNet's three scales (about 24 pixels to each side)
    restore tile edges differently."""
    from hybridcodec.coding import _to_float, _to_uint8, run_tiled

    model = RecUNet(scale=1, width=8, blocks=3)
    rng = np.random.default_rng(1)  # every weight drawn here (not Keras's unseeded init): the same case each run
    model.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    quality = np.array([[0.4]], np.float32)

    def restore(part):
        return _to_uint8(model([_to_float(part), quality], training=False))

    whole = restore(big).astype(int)
    assert np.abs(whole - big).mean() > 5  # the network changes the picture
    assert np.abs(run_tiled(restore, big, tile=96) - whole).max() <= 1  # float summation order
    assert np.abs(run_tiled(restore, big, tile=96, overlap=8) - whole).max() > 1


def test_tiled_comcnn_matches_whole_image(big):
    model = perturbed(ComCNN(scale=2))
    whole, tiled = run_pre(model, big, tile=10**6), run_pre(model, big, tile=96)
    assert whole.shape == tiled.shape == (151, 259, 3)
    assert psnr(whole, tiled) > 60
