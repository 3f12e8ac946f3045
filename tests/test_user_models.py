"""A user's own Keras models plug into the pipeline, and files remember which."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import hybridcodec  # noqa: E402
from hybridcodec import HybridCodecError  # noqa: E402
from hybridcodec.cli import main  # noqa: E402
from hybridcodec.container import unpack  # noqa: E402
from hybridcodec.metrics import psnr  # noqa: E402
from hybridcodec.models import ComCNN, RecCNN, weights_sha256  # noqa: E402


def nudged(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([w + (w.ndim == 4) * rng.normal(0, 0.01, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def post_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for seed in (1, 2):
        path = folder / f"mine{seed}.keras"
        nudged(RecCNN(scale=2, depth=3, width=8), seed).save(path)
        paths.append(path)
    return paths


def test_post_model_is_recorded_and_used(photo, post_files):
    data = hybridcodec.compress(photo, codec="jpeg", quality=50, scale=2, post_model=str(post_files[0]))
    ref = unpack(data).header.model("post")
    assert ref.name == "mine1"
    assert ref.sha256 == weights_sha256(keras.models.load_model(post_files[0]))
    # the model is not installed: decoding without naming it is refused, naming it
    with pytest.raises(HybridCodecError, match="mine1"):
        hybridcodec.decompress(data)
    out = hybridcodec.decompress(data, post_model=str(post_files[0]))
    assert out.shape == photo.shape and psnr(photo, out) > 20


def test_other_model_is_refused_unless_allowed(photo, post_files):
    data = hybridcodec.compress(photo, codec="jpeg", quality=50, scale=2, post_model=str(post_files[0]))
    with pytest.raises(HybridCodecError, match="needs mine1"):
        hybridcodec.decompress(data, post_model=str(post_files[1]))
    assert hybridcodec.decompress(data, post_model=str(post_files[1]), allow_model_mismatch=True).shape == photo.shape


def test_pre_model_sets_the_scale_and_is_recorded(photo, tmp_path):
    path = tmp_path / "pre.keras"
    nudged(ComCNN(scale=2), 3).save(path)
    data = hybridcodec.compress(photo, codec="webp", quality=60, scale=1, pre_model=str(path))
    header = unpack(data).header
    assert header.scale.label == 2 and header.model("pre").name == "pre"
    assert psnr(photo, hybridcodec.decompress(data)) > 20  # no post model: bicubic


def test_keras_model_objects_work_too(photo):
    model = nudged(RecCNN(scale=1, depth=3, width=8), 4)
    data = hybridcodec.compress(photo, codec="avif", quality=40, scale=1, post_model=model)
    assert hybridcodec.decompress(data, post_model=model).shape == photo.shape


def test_cli_model_options_and_bad_model_file(tmp_path, photo, post_files, capsys):
    from PIL import Image

    src = tmp_path / "x.png"
    Image.fromarray(photo).save(src)
    options = ["--codec", "jpeg", "--scale", "2", "--post-model", str(post_files[0]), "-q"]
    assert main(["compress", str(src), *options]) == 0
    assert main(["decompress", str(tmp_path / "x.hc"), "-o", str(tmp_path / "y.png")]) == 1
    assert "mine1" in capsys.readouterr().err
    assert main(["decompress", str(tmp_path / "x.hc"), "-o", str(tmp_path / "y.png"),
                 "--post-model", str(post_files[0])]) == 0
    bogus = tmp_path / "bogus.keras"
    bogus.write_bytes(b"not a zip")
    assert main(["decompress", str(tmp_path / "x.hc"), "-o", str(tmp_path / "z.png"), "--post-model", str(bogus)]) == 1
    assert "cannot load model" in capsys.readouterr().err
    assert not (tmp_path / "z.png").exists()
