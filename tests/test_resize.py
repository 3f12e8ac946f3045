"""The classical resampling path and the scales the format knows."""

from fractions import Fraction

import numpy as np
import pytest

from hybridcodec.resize import (area_downscale, bicubic_upscale, coded_size, network_scale, parse_scale,
                                scale_label)


@pytest.mark.parametrize("value,expected", [(1, 1), ("1", 1), (2, 2), ("2", 2), ("4/3", Fraction(4, 3)),
                                            (Fraction(4, 3), Fraction(4, 3))])
def test_parse_scale(value, expected):
    assert parse_scale(value) == expected


@pytest.mark.parametrize("value", [3, "3/2", "half", None, 0, "1/0"])
def test_unknown_scales_are_refused(value):
    with pytest.raises(ValueError, match="scale must be 1, 4/3 or 2"):
        parse_scale(value)


def test_labels_and_network_scales():
    assert [scale_label(s) for s in (1, "4/3", 2)] == [1, "4/3", 2]
    assert [network_scale(s) for s in (1, "4/3", 2)] == [1, 1, 2]


@pytest.mark.parametrize("scale,size", [(1, (768, 512)), ("4/3", (576, 384)), (2, (384, 256))])
def test_coded_size(scale, size):
    assert coded_size(768, 512, scale) == size
    assert coded_size(1, 1, scale) == (1, 1)


def test_odd_sizes_round_up():
    assert coded_size(7, 5, "4/3") == (6, 4)  # ceil(21/4), ceil(15/4)
    assert coded_size(7, 5, 2) == (4, 3)


@pytest.mark.parametrize("scale", [1, "4/3", 2])
def test_down_and_up_keep_a_smooth_image(scale):
    y, x = np.mgrid[0:60, 0:80]
    image = np.stack([x * 3, y * 4, (x + y) * 1.5], axis=2).astype(np.uint8)
    small = area_downscale(image, scale)
    assert small.shape[1::-1] == coded_size(80, 60, scale)
    back = bicubic_upscale(small, scale, 80, 60)
    assert back.shape == image.shape
    inner = (slice(4, -4), slice(4, -4))  # edges differ by the resamplers' border rules
    assert np.abs(back[inner].astype(int) - image[inner]).max() <= 3
