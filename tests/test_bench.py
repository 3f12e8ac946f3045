import json

import numpy as np
import pytest
from PIL import Image

from hybridcodec import bench
from hybridcodec.cli import main


def test_bench_writes_compressai_json_csv_plot_and_bd_rate(tmp_path, photo):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(photo, 11 * i, axis=1)).save(folder / f"{i}.png")
    out = tmp_path / "results"
    assert main(["bench", str(folder), "--codec", "jpeg", "--qualities", "10", "30", "50", "70", "90",
                 "--out", str(out)]) == 0
    for method in ("plain", "common", "next", "hybrid"):
        doc = json.loads((out / f"jpeg-{method}.json").read_text())
        assert doc["name"] == f"jpeg-{method}"
        assert set(doc["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
        assert len(doc["results"]["bpp"]) == 5
        assert doc["results"]["bpp"] == sorted(doc["results"]["bpp"]) or method == "hybrid"
    rows = (out / "jpeg-per-image.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 5 * 4  # 2 images x 5 qualities x (3 references + hybrid)
    summary = json.loads((out / "jpeg-summary.json").read_text())
    assert summary["bd_rate_psnr_percent"] is not None
    assert 40 < summary["header_bytes_mean"] < 200
    assert summary["images"] == str(folder)  # which photos: they must be ones that chose nothing
    assert summary["environment"]["codec_library"].startswith("mozjpeg 4.0.3")
    assert summary["references"]["common"] == {"codec": "jpeg", "encoder": "turbo", "effort": "default"}
    assert summary["references"]["next"]["codec"] == "webp"
    assert summary["environment"]["libraries"]["common"].startswith("libjpeg_turbo ")
    by_reference = summary["bd_rate_by_reference"]
    assert set(by_reference) == {"plain", "common", "next"}
    # the default encoder (mozjpeg) is itself better than the common default: the gain over it is larger
    assert by_reference["common"]["psnr"] < by_reference["plain"]["psnr"] < 0
    assert isinstance(summary["environment"]["cpu_flags"], list)
    worst = summary["worst_point"]  # the per-image check a mean BD-rate can hide
    assert worst["image"].endswith(".png") and worst["quality"] in (10, 30, 50, 70, 90)
    assert 0 <= summary["points_below_plain"] <= summary["points_judged"] <= 2 * 5
    low, high = summary["bd_rate_psnr_range"]
    assert low <= high and set(summary["bd_rate_psnr_per_image"]) == {"0.png", "1.png"}
    assert (out / "jpeg-rd.png").stat().st_size > 1000


def test_per_image_gains_find_the_image_that_loses():
    def point(image, method, quality, rate, value):
        return bench.Point(image, method, quality, rate, value, 0.9, 0, 0)

    points = [point(name, "plain", q, b, v) for name in ("a", "b") for q, b, v in ((10, 0.2, 30), (50, 0.8, 36))]
    points += [point("a", "hybrid", 30, 0.4, 35.0), point("b", "hybrid", 30, 0.4, 32.0),
               point("b", "hybrid", 90, 2.0, 40.0)]  # beyond b's plain curve: not judged
    gains = bench.per_image_gains(points)
    assert gains["points_judged"] == 2 and gains["points_below_plain"] == 1
    assert gains["worst_point"]["image"] == "b" and gains["worst_point"]["gain_db"] == pytest.approx(-1.0)
    assert set(gains["bd_rate_psnr_per_image"]) == {"a", "b"}  # None: too few points for a BD-rate here


def test_demo_prints_every_codec(capsys):
    points = bench.demo(bench.Path(bench.__file__).parent / "samples" / "astronaut.png")
    assert {p.method for p in points} == {"plain", "hybrid"}
    assert len(points) == 2 * 2 * 4
    out = capsys.readouterr().out
    for codec in ("jpeg", "webp", "avif", "jpegxl"):
        assert codec in out
