"""Golden .hc files made by earlier versions must decode the same after every change."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.hc"))


def test_there_are_golden_files():
    assert len(FILES) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_file_decodes_as_before(path):
    expected = np.asarray(Image.open(path.with_suffix(".expected.png")))
    decoded = hybridcodec.decompress(path.read_bytes())
    assert decoded.shape == expected.shape and decoded.dtype == np.uint8
    # decoder libraries may round one level differently across versions, no more
    assert psnr(expected, decoded) > 50


def test_int8_golden_file_decodes_within_a_level_here():
    """Integer arithmetic: the twin's file decodes the same on every CPU with
    VNNI or AMX (made on one without AMX; CI machines may differ)."""
    from hybridcodec import zoo

    path = Path(__file__).parent / "golden" / "jpeg-q30-mozjpeg-int8.hc"
    assert zoo.find(sha256=unpack(path.read_bytes()).header.model("post").sha256).precision == "int8"
    expected = np.asarray(Image.open(path.with_suffix(".expected.png"))).astype(int)
    assert np.abs(hybridcodec.decompress(path.read_bytes()) - expected).max() <= 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_file_models_are_installed(path):
    from hybridcodec import zoo

    for ref in unpack(path.read_bytes()).header.models:
        assert zoo.find(sha256=ref.sha256) is not None, f"{path.name} needs {ref.name}"
