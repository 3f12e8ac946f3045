"""The coding scales: file ids, labels, sizes and the classical resampling."""

from fractions import Fraction

import numpy as np
import pytest

from hybridcodec import scale as scales


@pytest.mark.parametrize("value,expected", [(1, scales.FULL), ("1", scales.FULL), (2, scales.HALF),
                                            ("2", scales.HALF), ("4/3", scales.THREE_QUARTER),
                                            (Fraction(4, 3), scales.THREE_QUARTER),
                                            (scales.HALF, scales.HALF)])
def test_parse(value, expected):
    assert scales.parse(value) is expected


@pytest.mark.parametrize("value", [3, "3/2", "half", None, 0, "1/0"])
def test_unknown_scales_are_refused(value):
    with pytest.raises(ValueError, match="scale must be 1, 4/3 or 2"):
        scales.parse(value)


def test_labels_ids_words_and_network_factors():
    assert [s.label for s in scales.SCALES] == [1, "4/3", 2]
    assert scales.CHOICES == ["1", "4/3", "2"]
    assert [s.network_factor for s in scales.SCALES] == [1, 1, 2]
    assert [s.file_id for s in scales.SCALES] == [1, 3, 2]  # the format's scale byte: never reuse one
    assert all(scales.by_file_id(s.file_id) is s for s in scales.SCALES) and scales.by_file_id(4) is None
    assert scales.HALF.words == "half size" and scales.FULL < scales.THREE_QUARTER < scales.HALF
    assert scales.HALF == 2 and Fraction(4, 3) == scales.THREE_QUARTER and scales.FULL != "1"


@pytest.mark.parametrize("scale,size", [(1, (768, 512)), ("4/3", (576, 384)), (2, (384, 256))])
def test_coded_size(scale, size):
    assert scales.parse(scale).coded_size(768, 512) == size
    assert scales.parse(scale).coded_size(1, 1) == (1, 1)


def test_odd_sizes_round_up():
    assert scales.THREE_QUARTER.coded_size(7, 5) == (6, 4)  # ceil(21/4), ceil(15/4)
    assert scales.HALF.coded_size(7, 5) == (4, 3)


@pytest.mark.parametrize("scale", scales.SCALES, ids=str)
def test_down_and_up_keep_a_smooth_image(scale):
    y, x = np.mgrid[0:60, 0:80]
    image = np.stack([x * 3, y * 4, (x + y) * 1.5], axis=2).astype(np.uint8)
    small = scale.downscale(image)
    assert small.shape[1::-1] == scale.coded_size(80, 60)
    back = scale.upscale(small, 80, 60)
    assert back.shape == image.shape
    inner = (slice(4, -4), slice(4, -4))  # edges differ by the resamplers' border rules
    assert np.abs(back[inner].astype(int) - image[inner]).max() <= 3


def test_network_input_is_the_upscale_only_where_the_network_does_not_upsample():
    decoded = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert scales.HALF.network_input(decoded, 128, 96) is decoded
    assert scales.THREE_QUARTER.network_input(decoded, 85, 64).shape == (64, 85, 3)
