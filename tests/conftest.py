"""Shared fixtures: small test images made here or shipped by scikit-image."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo():
    """A 96x128 crop of scikit-image's astronaut (public domain, NASA)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:196, 150:278])


@pytest.fixture(scope="session")
def gradient():
    """A smooth synthetic RGB image with an odd size."""
    y, x = np.mgrid[0:45, 0:67]
    return np.stack([x * 3, y * 5, (x + y) * 2], axis=2).clip(0, 255).astype(np.uint8)


@pytest.fixture
def png(tmp_path, photo):
    """``photo`` saved as ``a.png`` in the test's folder."""
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(photo).save(path)
    return path
