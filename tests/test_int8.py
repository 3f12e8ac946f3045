"""int8 twins of the restoration networks (issue #20): separate named
networks that the encoder chooses and the file records; the float32 network
stays available and exact."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from hybridcodec import HybridCodecError, codecs, pipeline, runtime, zoo
from hybridcodec.coding import CodingPath, run_post
from hybridcodec.metrics import psnr
from hybridcodec.settings import EncodeSettings

TWINS = [e for e in zoo.entries() if e.variant_of]


def test_jpeg_default_paths_have_twins():
    names = {row["post"] for row in zoo.manifest()["operating_points"]["jpeg:mozjpeg"] if row["post"]}
    assert names
    for name in names:
        twin = zoo.with_precision(zoo.find(name), "int8")
        assert twin in TWINS and twin.variant_of == name and twin.status == "current"


def test_the_newest_twin_serves_and_older_ones_still_decode():
    """zoo quantize never replaces a twin: old files name it by hash."""
    for base in {t.variant_of for t in TWINS}:
        twins = [t for t in TWINS if t.variant_of == base]
        assert zoo.with_precision(zoo.find(base), "int8") == twins[-1]
        assert [t.status for t in twins[:-1]] == ["superseded"] * (len(twins) - 1)
        assert all(zoo.find(sha256=t.sha256) == t for t in twins)


def test_precision_picks_the_twin_or_the_network_itself():
    twin = zoo.find("reccnn-jpeg-s1-mozjpeg-d16-int8")
    exact = zoo.find(twin.variant_of)
    assert zoo.with_precision(exact, "int8") == twin
    assert zoo.with_precision(twin, "float32") == exact
    assert zoo.with_precision(twin, "int8") == twin and zoo.with_precision(exact, "float32") == exact
    untwinned = zoo.find("reccnn-jpeg-s1")  # superseded: never quantized
    assert zoo.with_precision(untwinned, "int8") == untwinned
    assert zoo.with_precision(None, "int8") is None
    with pytest.raises(HybridCodecError, match="precision"):
        zoo.with_precision(exact, "int4")


@pytest.mark.parametrize("twin", TWINS, ids=lambda e: e.name)
def test_twin_restores_within_a_tenth_of_a_db_of_its_network(twin):
    """At a quality where the tables use it (its card's), on a photo it never saw."""
    from skimage import data

    card = json.loads(zoo.weights_file(f"{twin.name}.json").read_text())
    assert card["evaluation"]["mean_cost_db"] <= 0.05
    photo = np.ascontiguousarray(data.chelsea()[:256, :256])
    exact = zoo.find(twin.variant_of)
    network, reference = zoo.load(twin), zoo.load(exact)
    assert (network.scale, network.role, network.condition) == (reference.scale, reference.role, reference.condition)
    backend = codecs.get_codec(twin.codec).configured(card["calibration"]["encoder"])
    quality = card["calibration"]["qualities"][1]
    path = CodingPath(backend, quality, twin.scale)
    h, w = photo.shape[:2]
    payload = path.encode(photo)
    seen = twin.scale.network_input(path.decode(payload, w, h), w, h)
    condition = CodingPath(backend, quality, twin.scale, post=network).condition(payload)
    fast, slow = (psnr(photo, run_post(n, seen, condition, w, h)) for n in (network, reference))
    classical = psnr(photo, path.restore(path.decode(payload), w, h))
    assert fast > slow - 0.1 and fast > classical + 0.05, (fast, slow, classical)


def test_the_file_names_the_network_chosen_and_decodes_with_it(photo):
    fast = pipeline.encode(photo, "jpeg", 30, scale=1)  # one path: no per-image decision to differ
    exact = pipeline.encode(photo, "jpeg", 30, scale=1, precision="float32")
    fast_post, exact_post = fast.hc.header.model("post"), exact.hc.header.model("post")
    assert fast_post.name.endswith("-int8") and not exact_post.name.endswith("-int8")
    assert zoo.find(fast_post.name).variant_of == exact_post.name
    assert len(fast.data) == len(exact.data)  # the same payload: a 32-byte hash differs
    out_fast, out_exact = pipeline.decompress(fast.data), pipeline.decompress(exact.data)
    assert abs(psnr(photo, out_fast) - psnr(photo, out_exact)) < 0.1
    # the exact file decodes as its network says: the float32 runtime, not the twin
    backend = codecs.get_codec("jpeg")
    header = exact.hc.header
    path = CodingPath(backend, header.quality, header.scale, post=zoo.load(exact_post.name))
    assert np.array_equal(out_exact, path.restore(path.decode(exact.hc.payload), *photo.shape[1::-1],
                                                  exact.hc.payload))


def test_cli_and_pillow_take_a_precision(tmp_path, photo, capsys):
    from hybridcodec.cli import main

    src = tmp_path / "x.png"
    Image.fromarray(photo).save(src)
    common = ["compress", str(src), "--codec", "jpeg", "--scale", "1"]
    assert main([*common, "--precision", "float32", "-o", str(tmp_path / "a.hc")]) == 0
    assert main([*common, "-o", str(tmp_path / "b.hc")]) == 0
    out = capsys.readouterr().out
    assert "-int8" not in out.splitlines()[0] and "-int8" in out.splitlines()[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["compress", str(src), "--precision", "int4"])
    assert exit_info.value.code == 2
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="HC", codec="jpeg", quality=30, scale=1, precision="float32")
    backend = EncodeSettings(codec="jpeg", quality=30).backend()  # the default tune's encoder
    network = zoo.operating_point("jpeg", backend.encoder_quality(30), 1, backend.encoder).post
    assert pipeline.read_file(buffer.getvalue()).header.model("post").name == network.name


def _random_tiny_network() -> bytes:
    """A 4x16 ``jpeg-tables`` RecCNN with random weights, exported."""
    pytest.importorskip("keras")
    pytest.importorskip("onnxruntime.quantization")
    from hybridcodec import models
    from hybridcodec.tools.export import to_onnx

    model = models.RecCNN(depth=4, width=16, condition="jpeg-tables")
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.05, variable.shape).astype(np.float32))
    return to_onnx(model).SerializeToString()


def test_quantize_keeps_the_contract_and_stays_close(photo):
    onnx = pytest.importorskip("onnx")
    exported = _random_tiny_network()
    from hybridcodec.tools.export import quantize_int8

    image = (photo[None] / 255.0).astype(np.float32)
    condition = np.full((1, 8), 0.3, np.float32)
    quantized = quantize_int8(exported, [{"decoded": image, "quality": condition}] * 4)
    ops = [node.op_type for node in onnx.load_from_string(quantized).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    exact, twin = runtime.Network.from_bytes(exported), runtime.Network.from_bytes(quantized)
    assert (twin.scale, twin.role, twin.condition) == (1, "post", "jpeg-tables")
    assert twin.session.get_modelmeta().custom_metadata_map["precision"] == "int8"
    difference = np.abs(twin([image, condition]) - exact([image, condition])) * 255
    assert 0 < difference.max() < 8  # quantized, and close


def test_pixel_shuffles_move_uint8_in_the_twin(photo):
    """RecUNet's pixel shuffles run between a DequantizeLinear and a
    QuantizeLinear, which ONNX Runtime fuses into a uint8 move; the
    quantizer's own table is left as it was."""
    onnx = pytest.importorskip("onnx")
    from onnxruntime.quantization.registry import QDQRegistry

    from hybridcodec.models import RecUNet
    from hybridcodec.tools.export import quantize_int8, to_onnx

    exported = to_onnx(RecUNet(width=4)).SerializeToString()
    image = (photo[None, :64, :64] / 255.0).astype(np.float32)
    graph = onnx.load_from_string(quantize_int8(exported, [{"decoded": image, "quality": np.full((1, 1), 0.3,
                                                                                                   np.float32)}])).graph
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    read_by = {name: node.op_type for node in graph.node for name in node.input}
    shuffles = [node for node in graph.node if node.op_type == "DepthToSpace"]
    assert len(shuffles) == 2
    assert all(made_by[n.input[0]] == "DequantizeLinear" and read_by[n.output[0]] == "QuantizeLinear"
               for n in shuffles)
    assert "DepthToSpace" not in QDQRegistry


def refit_errors(exported: bytes, photo: np.ndarray) -> tuple[list[float], bytes]:
    """Quantize ``exported``, refit its output layer to the float32
    network's own output on four views of ``photo``, and measure both twins'
    mean squared distance from that target on ``photo``: ([plain, refitted],
    the refitted twin). tests/test_cross_cpu.py runs it on a CPU without VNNI."""
    from hybridcodec.tools.export import quantize_int8, refit_output_conv

    exact = runtime.Network.from_bytes(exported)
    crops = [(np.ascontiguousarray(view)[None] / 255.0).astype(np.float32)
             for view in (photo, photo[::-1], photo[:, ::-1], photo.transpose(1, 0, 2))]
    condition = np.full((1, 8), 0.3, np.float32)
    feeds = [{"decoded": crop, "quality": condition} for crop in crops]
    quantized = quantize_int8(exported, feeds)
    refitted = refit_output_conv(quantized, [(feed, exact([feed["decoded"], condition])[0]) for feed in feeds])
    image = (photo[None] / 255.0).astype(np.float32)
    target = exact([image, condition])
    errors = [float(np.mean((runtime.Network.from_bytes(twin)([image, condition]) - target) ** 2))
              for twin in (quantized, refitted)]
    return errors, refitted


def test_refitting_the_output_layer_brings_the_twin_closer_to_its_target(photo):
    """export.refit_output_conv: least squares on the int8 layers' features.
    With the float32 network's own output as the target, the refitted twin
    is closer to it than the plain twin is (0.44 of its error, on every CPU:
    the refit reads the features the runtime computes, the exact kernel
    where there is no VNNI), and keeps the contract."""
    errors, refitted = refit_errors(_random_tiny_network(), photo)
    assert errors[1] < 0.9 * errors[0]
    assert runtime.Network.from_bytes(refitted).condition == "jpeg-tables"


def test_clipped_ranges_are_percentiles_and_set_the_twins_steps(photo):
    """export.clipped_ranges: per ReLU output, the largest per-feed
    percentile (below the largest value); quantize_int8 uses them as the
    tensors' ranges, so each step is the clipped range over 255."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from hybridcodec.tools.export import clipped_ranges, quantize_int8

    exported = _random_tiny_network()
    condition = np.full((1, 8), 0.3, np.float32)
    feeds = [{"decoded": (np.ascontiguousarray(view)[None] / 255.0).astype(np.float32), "quality": condition}
             for view in (photo, photo[::-1])]
    clipped, highest = clipped_ranges(exported, feeds), clipped_ranges(exported, feeds, percentile=100)
    assert len(clipped) == 3 and clipped.keys() == highest.keys()  # depth 4: three ReLUs
    assert all(clipped[name][0] == 0 and 0 < clipped[name][1] < highest[name][1] for name in clipped)
    quantized = onnx.load_from_string(quantize_int8(exported, feeds, ranges=clipped))
    values = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    steps = {node.input[0]: float(values[node.input[1]]) for node in quantized.graph.node
             if node.op_type == "QuantizeLinear" and node.input[0] in clipped}
    assert steps.keys() == clipped.keys()
    assert all(steps[name] == pytest.approx(clipped[name][1] / 255, rel=1e-5) for name in clipped)
