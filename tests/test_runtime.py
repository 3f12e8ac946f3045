"""The light runtime: shipped networks run in ONNX Runtime, match Keras, and
coding needs no TensorFlow."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hybridcodec import codecs, runtime, zoo
from hybridcodec.coding import CodingPath

ENTRIES = zoo.entries()
EXACT = [e for e in ENTRIES if not e.variant_of]  # the int8 twins have no Keras model: tests/test_int8.py
GOLDEN = Path(__file__).parent / "golden"


def _decoded(entry, width=136, height=104):
    """What the network sees on a real photo coded by its codec (a typical
    quality), and what it is told of the coding (its condition vector)."""
    rgb = np.ascontiguousarray(data.astronaut()[100 : 100 + height, 150 : 150 + width])
    path = CodingPath(codecs.get_codec(entry.codec), 30, entry.scale, post=zoo.load(entry))
    payload = path.encode(rgb)
    decoded = path.decode(payload, width, height)
    return entry.scale.network_input(decoded, width, height), path.condition(payload), width, height


@pytest.mark.parametrize("entry", EXACT, ids=lambda e: e.name)
def test_shipped_network_matches_float32_keras_within_a_level(entry):
    from hybridcodec.coding import run_post
    from hybridcodec.tools.export import float32_twin

    seen, condition, width, height = _decoded(entry)
    ours = run_post(zoo.load(entry), seen, condition, width, height)
    keras_out = run_post(float32_twin(zoo.load_keras(entry)), seen, condition, width, height)
    assert ours.shape == keras_out.shape == (height, width, 3)
    assert np.abs(ours.astype(int) - keras_out.astype(int)).max() <= 1
    assert not np.array_equal(ours, entry.scale.upscale(seen, width, height) if entry.scale.network_factor == 2
                              else seen)  # the network did something


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_manifest_pins_each_exported_file(entry):
    assert entry.onnx and entry.onnx_path.exists()
    assert runtime.file_sha256(entry.onnx_path) == entry.onnx_sha256


def test_a_changed_exported_file_is_refused(tmp_path):
    entry = ENTRIES[0]
    copy = tmp_path / "x.onnx"
    copy.write_bytes(entry.onnx_path.read_bytes() + b"\0")
    with pytest.raises(runtime.HybridCodecError, match="SHA-256"):
        runtime.Network(copy, entry.onnx_sha256)


@pytest.mark.parametrize("name", ["reccnn-jpeg-s2-d16", "reccnn-jpeg-s1"])
def test_export_reproduces_the_shipped_file(tmp_path, name):
    from hybridcodec.tools.export import export

    entry = zoo.find(name)
    out = export(entry.path, tmp_path / "x.onnx")
    assert runtime.file_sha256(out) == entry.onnx_sha256


def _randomised(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        values = rng.normal(0, 0.1, variable.shape).astype(np.float32)
        variable.assign(np.abs(values) + 0.5 if "variance" in variable.path else values)
    return model


def _every_class():
    from hybridcodec import models

    return {
        "reccnn-s2": lambda: models.RecCNN(scale=2),
        "reccnn-block-bn": lambda: models.RecCNN(scale=1, block=8, batch_norm=True),
        "reccnn-half-resolution": lambda: models.RecCNN(scale=1, half_resolution=True),
        "reccnn-half-resolution-s2": lambda: models.RecCNN(scale=2, half_resolution=True),
        "reccnn-bfloat16": lambda: models.RecCNN(scale=1, depth=4, compute_dtype="bfloat16"),
        "recunet-s2": lambda: models.RecUNet(scale=2),
        "recunet-tables-bfloat16": lambda: models.RecUNet(width=8, compute_dtype="bfloat16", condition="jpeg-tables"),
        "arcnn": lambda: models.ARCNN(scale=1),
        "arcnn-aspp-s2": lambda: models.ARCNNASPP(scale=2),
        "comcnn-s2": lambda: models.ComCNN(scale=2),
        "comcnn-s1": lambda: models.ComCNN(scale=1),
    }


@pytest.mark.parametrize("name", list(_every_class()))
def test_every_model_class_exports_with_dynamic_sizes(name):
    from hybridcodec.tools.export import float32_twin, to_onnx

    model = _randomised(_every_class()[name]())
    network = runtime.Network.from_bytes(to_onnx(model).SerializeToString())
    reference = float32_twin(model)
    for height, width in ((67, 45), (32, 96)):  # odd sizes too: padding and cropping
        x = np.random.default_rng(height).random((1, height, width, 3), dtype=np.float32)
        inputs = x if model.role == "pre" else [x, np.full((1, model.inputs[1].shape[-1]), 0.3, np.float32)]
        expected = np.asarray(reference(inputs, training=False))
        got = network(inputs)
        assert got.shape == expected.shape
        # relative to the output's range: random weights make large values
        assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())


def test_an_unknown_layer_is_refused_by_name():
    import keras

    from hybridcodec.tools.export import to_onnx

    x = keras.Input((None, None, 3))
    model = keras.Model(x, keras.layers.LeakyReLU(name="odd_one")(x))
    with pytest.raises(ValueError, match="odd_one"):
        to_onnx(model)


def test_ms_ssim_in_numpy_matches_tensorflow():
    import tensorflow as tf

    from hybridcodec.metrics import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_scales

    rng = np.random.default_rng(1)
    for image in (data.astronaut(), data.chelsea()[:301, :277], data.coffee()[:150, :133], data.camera()[:200, :181]):
        noisy = np.clip(image.astype(int) + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)
        ref = image if image.ndim == 3 else image[:, :, None]
        out = noisy if noisy.ndim == 3 else noisy[:, :, None]
        weights = MS_SSIM_WEIGHTS[: ms_ssim_scales(min(ref.shape[:2]))]
        expected = tf.image.ssim_multiscale(tf.constant(ref[None], tf.float32), tf.constant(out[None], tf.float32),
                                            max_val=255.0, power_factors=[w / sum(weights) for w in weights])
        assert abs(ms_ssim(image, noisy) - float(expected.numpy()[0])) < 1e-4


# --------------------------------------------------------------------------
# Coding without TensorFlow
# --------------------------------------------------------------------------


@pytest.fixture
def without_tensorflow(tmp_path):
    """An environment in which ``import tensorflow`` and ``import keras`` fail."""
    blocker = tmp_path / "blocked"
    for name in ("tensorflow", "keras"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    return env


def _run(env, *args):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


def test_tensorflow_is_blocked_in_the_fixture(without_tensorflow):
    assert _run(without_tensorflow, "-c", "import tensorflow").returncode != 0


def test_compress_decompress_info_and_golden_files_without_tensorflow(without_tensorflow, tmp_path):
    env = without_tensorflow
    source = tmp_path / "in.png"
    Image.fromarray(data.astronaut()[:160, :200]).save(source)
    cli = ["-m", "hybridcodec.cli"]
    for codec, quality in (("jpeg", 40), ("jpeg", 5), ("webp", 10)):  # scale 1, 2 (network) and WebP
        out = tmp_path / f"{codec}{quality}.hc"
        assert _run(env, *cli, "compress", str(source), "-o", str(out), "--codec", codec,
                    "--quality", str(quality)).returncode == 0
        result = _run(env, *cli, "decompress", str(out), "-o", str(tmp_path / f"{codec}{quality}.png"))
        assert result.returncode == 0, result.stderr
        info = _run(env, *cli, "info", str(out))
        assert info.returncode == 0 and codec in info.stdout
    check = (
        "import sys, numpy as np, hybridcodec\n"
        "from PIL import Image\n"
        "from pathlib import Path\n"
        f"for path in sorted(Path({str(GOLDEN)!r}).glob('*.hc')):\n"
        "    expected = np.asarray(Image.open(path.with_suffix('.expected.png')))\n"
        "    a = hybridcodec.decompress(path.read_bytes())\n"
        "    b = np.asarray(Image.open(path))\n"
        "    assert a.shape == expected.shape and np.array_equal(a, b), path\n"
        "    assert np.abs(a.astype(int) - expected.astype(int)).max() <= 2, path\n"
        "from hybridcodec.tools import bench\n"  # bench and demo measure MS-SSIM without TensorFlow
        "from skimage import data\n"
        "point, _ = bench.code_hybrid(data.astronaut()[:200, :200], 'jpeg', 30)\n"
        "assert 0.5 < point.ms_ssim <= 1\n"
        "assert bench.environment(bench._settings('jpeg'), {})['runtime'].startswith('onnxruntime')\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    result = _run(env, "-c", check)
    assert result.returncode == 0, result.stderr


def test_a_users_keras_model_without_the_extra_is_one_line_naming_it(without_tensorflow, tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(data.astronaut()[:64, :64]).save(source)
    model = tmp_path / "mine.keras"
    model.write_bytes(b"not read")
    result = _run(without_tensorflow, "-m", "hybridcodec.cli", "compress", str(source), "--codec", "jpeg",
                  "--post-model", str(model))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "hybridcodec[train]" in result.stderr


@pytest.mark.parametrize("numpy_vnni, cpuinfo, exact", [
    (True, set(), False),  # AVX512-VNNI by CPUID: the fast kernel
    (False, {"avx2", "fma", "avx_vnni"}, False),  # AVX-VNNI (an Alder Lake), /proc/cpuinfo agrees with CPUID
    (False, {"avx2", "fma"}, True),  # AVX2 alone: the exact kernel
    # an emulated Haswell on a host with AVX-512 and AVX-VNNI: /proc/cpuinfo is the host's
    (False, {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni"}, True),
])
def test_int8_precision_mode_reads_cpuinfo_only_where_it_is_this_cpu(monkeypatch, numpy_vnni, cpuinfo, exact):
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__
    if not __cpu_features__.get("SSE2"):
        pytest.skip("x86 only")
    cpuid = {"AVX2": True, "FMA3": True, "AVX512F": False, "AVX512VNNI": numpy_vnni, "AVX512BF16": False}
    for name, value in cpuid.items():
        monkeypatch.setitem(__cpu_features__, name, value)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset(cpuinfo))
    runtime.int8_precision_mode.cache_clear()
    try:
        assert runtime.int8_precision_mode() is exact
    finally:
        runtime.int8_precision_mode.cache_clear()
