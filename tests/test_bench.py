import json
import warnings

import numpy as np
import pytest
from PIL import Image

from hybridcodec import metrics
from hybridcodec.cli import main
from hybridcodec.tools import bench


def test_bench_writes_compressai_json_csv_plot_and_bd_rate(tmp_path, photo):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(photo, 11 * i, axis=1)).save(folder / f"{i}.png")
    out = tmp_path / "results"
    assert main(["bench", str(folder), "--codec", "jpeg", "--qualities", "10", "30", "50", "70", "90",
                 "--tune", "psnr", "--out", str(out)]) == 0  # psnr: plain is mozjpeg, mozjpeg's defaults apart
    methods = ("plain", "common", "mozjpeg-default", "jpegli", "next")
    eye = {"ssimulacra2", "butteraugli-3norm", "butteraugli-max"} if metrics.butteraugli_tool() else {"ssimulacra2"}
    for method in (*methods, "hybrid"):
        doc = json.loads((out / f"jpeg-{method}.json").read_text())
        assert doc["name"] == f"jpeg-{method}"
        assert set(doc["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time", *eye}
        assert len(doc["results"]["bpp"]) == 5
        assert doc["results"]["bpp"] == sorted(doc["results"]["bpp"]) or method == "hybrid"
    rows = (out / "jpeg-per-image.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 5 * 6  # 2 images x 5 qualities x (5 references + hybrid)
    assert rows[0].endswith("decoding_time,ssimulacra2,butteraugli-3norm,butteraugli-max")
    summary = json.loads((out / "jpeg-summary.json").read_text())
    assert summary["bd_rate_psnr_percent"] is not None
    assert 40 < summary["header_bytes_mean"] < 200
    assert summary["images"] == str(folder)  # which photos: they must be ones that chose nothing
    assert summary["tune"] == "psnr"
    assert summary["environment"]["codec_library"].startswith("mozjpeg 4.0.3")
    assert summary["references"]["common"] == {"codec": "jpeg", "encoder": "turbo", "effort": "default"}
    assert summary["references"]["next"]["codec"] == "webp"
    assert summary["environment"]["libraries"]["common"].startswith("libjpeg_turbo ")
    assert summary["references"]["jpegli"] == {"codec": "jpeg", "encoder": "jpegli", "effort": "default"}
    by_reference = summary["bd_rate_by_reference"]
    assert set(by_reference) == set(methods)
    measured = summary["metrics"]
    assert set(measured) | set(summary["metrics_skipped"]) == {"psnr", "ms_ssim", "ssimulacra2", "butteraugli"}
    for method in methods:  # a BD-rate on every metric measured against every reference
        assert all(isinstance(by_reference[method][m], float) for m in measured)
    # the best plain JPEG encoder per metric: one of the JPEG references, by a BD-rate against hybridcodec
    for metric in measured:
        best = summary["best_plain_by_metric"][metric]
        assert set(best["bd_rate_against_hybrid"]) == {"plain", "common", "mozjpeg-default", "jpegli"}
        assert best["bd_rate_against_hybrid"][best["reference"]] == min(best["bd_rate_against_hybrid"].values())
    assert set(summary["worst_point_by_metric"]) == {"ssimulacra2", "butteraugli"} & set(measured)
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


def test_worst_point_on_a_distance_counts_a_larger_distance_as_a_loss():
    def point(image, method, rate, distance):
        return bench.Point(image, method, 50, rate, 30.0, 0.9, 0, 0, ssimulacra2=60.0, butteraugli=distance)

    points = [point("a", "plain", 0.2, 4.0), point("a", "plain", 0.8, 2.0),
              point("a", "hybrid", 0.4, 2.5), point("a", "hybrid", 0.6, 3.5)]
    worst = bench.worst_point(points, "butteraugli")
    # the plain distance at 0.6 bpp, interpolated in log bpp, is about 2.42: 3.5 is a loss of about 1.08
    assert worst["bpp"] == 0.6 and worst["gain"] == pytest.approx(-1.08, abs=0.01)
    assert worst["points_judged"] == 2 and worst["points_below_plain"] == 1


def test_bench_without_butteraugli_main_skips_it_and_says_so(tmp_path, photo, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "0.png")
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without libjxl-devtools
    summary = bench.run(folder, "webp", [10, 30, 50, 70], tmp_path / "out", progress=False)
    assert summary["metrics"] == ["psnr", "ms_ssim", "ssimulacra2"]
    assert "butteraugli_main is not installed" in summary["metrics_skipped"]["butteraugli"]
    assert summary["bd_rate_by_reference"]["plain"]["butteraugli"] is None
    assert isinstance(summary["bd_rate_by_reference"]["plain"]["ssimulacra2"], float)
    assert "butteraugli-3norm" not in json.loads((tmp_path / "out" / "webp-hybrid.json").read_text())["results"]


def test_bench_summary_keeps_bjontegaards_overlap_warning_to_itself(tmp_path):
    def point(method, quality, rate, value):
        return bench.Point("a", method, quality, rate, value, 0.9, 0, 0, header_bytes=64, pixels=10000,
                           ssimulacra2=value, butteraugli=50 - value)

    qualities, rates = [20, 40, 60, 80], [0.1, 0.2, 0.3, 0.4]
    points = [point("plain", *p) for p in zip(qualities, rates, [30, 32, 34, 36], strict=True)]
    points += [point("hybrid", q, 2 * r, v) for q, r, v in zip(qualities, rates, [33, 35, 37, 39], strict=True)]
    with pytest.warns(UserWarning, match="overlap"):  # the curves share a third of their range
        metrics.bd_rate(rates, [30, 32, 34, 36], [2 * r for r in rates], [33, 35, 37, 39])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = bench.write_results(points, "webp", qualities, tmp_path, tmp_path)
    assert summary["bd_rate_by_reference"]["plain"]["psnr"] is not None


def test_demo_prints_every_codec(capsys):
    points = bench.demo(bench.Path(bench.__file__).parents[1] / "samples" / "astronaut.png")
    assert {p.method for p in points} == {"plain", "hybrid"}
    assert len(points) == 2 * 2 * 4
    out = capsys.readouterr().out
    for codec in ("jpeg", "webp", "avif", "jpegxl"):
        assert codec in out
