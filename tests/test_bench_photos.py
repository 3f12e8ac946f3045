"""Anyone can check: `hybridcodec bench` on scikit-image's photos (photos no
one here trained or chose on) gives every codec's BD-rate and per-image
worst point against the plain codec; the per-image check keeps every point
at least as good as plain."""

import json

import pytest
from PIL import Image
from skimage import data

from hybridcodec.cli import main

PHOTOS = {"astronaut": data.astronaut, "chelsea": data.chelsea, "coffee": data.coffee,
          "motorcycle_left": lambda: data.stereo_motorcycle()[0]}
QUALITIES = {"jpeg": ["5", "20", "40", "60"], "webp": ["10", "30", "50", "70"],
             "avif": ["20", "40", "60", "80"], "jpegxl": ["10", "30", "50", "70"]}  # 4: a BD-rate needs them


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("skimage-photos")
    for name, load in PHOTOS.items():  # the middle 384x256 of each: the suite stays within minutes
        photo = load()
        y, x = (photo.shape[0] - 256) // 2, (photo.shape[1] - 384) // 2
        Image.fromarray(photo[y : y + 256, x : x + 384]).save(folder / f"{name}.png")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("codec", list(QUALITIES))
def test_bench_on_skimage_photos(codec, photos, tmp_path):
    assert main(["bench", str(photos), "--codec", codec, "--qualities", *QUALITIES[codec],
                 "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / f"{codec}-summary.json").read_text())
    assert set(summary["bd_rate_psnr_per_image"]) == {f"{name}.png" for name in PHOTOS}
    assert summary["bd_rate_psnr_percent"] < 0  # better than the same encoder plain
    # never worse than plain at --quality in its bytes plus header: measured against the plain
    # curve interpolated between its qualities, a point may sit a hair below it
    assert summary["worst_point"]["gain_db"] > -0.1
