"""Chores done one way (issue #39, item 5): atomic writes, peak memory, the
manifest's schema and the twin it picks, and training checkpoints keyed by
name that still resume the index-keyed ones of 0.8.0."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from hybridcodec import HybridCodecError, zoo
from hybridcodec.tools import zoo_admin

BASE = {"name": "net", "file": "net.keras", "sha256": "11" * 32, "role": "post", "codec": "jpeg", "scale": "1",
        "class": "RecCNN", "card": "net.json", "onnx": "net.onnx", "onnx_sha256": "22" * 32,
        "keras_sha256": "33" * 32, "status": "current"}


def twin(name, sha):
    return {"name": name, "file": "", "sha256": sha, "role": "post", "codec": "jpeg", "scale": "1", "class": "onnx",
            "card": f"{name}.json", "onnx": f"{name}.onnx", "onnx_sha256": sha, "variant_of": "net",
            "precision": "int8", "status": "current"}


@pytest.fixture
def manifest_at(tmp_path, monkeypatch):
    """Write a manifest into a weights folder of its own and return a reader of it."""
    monkeypatch.setattr(zoo, "weights_dir", lambda: tmp_path)
    monkeypatch.setattr(zoo_admin, "models_dir", lambda: tmp_path)

    def write(models, **extra):
        (tmp_path / "manifest.json").write_text(json.dumps({"models": models, "operating_points": {}, **extra}))
        zoo.clear_caches()
        return tmp_path / "manifest.json"

    yield write
    zoo.clear_caches()


# -- the manifest's schema ------------------------------------------------------


def test_the_shipped_manifest_loads_with_every_key():
    by_name = {m["name"]: m for m in zoo.manifest()["models"]}
    for entry in zoo.entries():
        assert (entry.card, entry.class_) == (by_name[entry.name]["card"], by_name[entry.name]["class"])


@pytest.mark.parametrize("change, said", [({"onnx_sha": "x"}, "an unknown key 'onnx_sha'"),
                                          ({"sha256": None}, "no 'sha256'")])
def test_an_unknown_or_missing_key_is_refused_naming_the_network(manifest_at, change, said):
    entry = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    manifest_at([BASE | {"name": "fine"}, entry])
    with pytest.raises(HybridCodecError) as refused:
        zoo.entries()
    assert f"network 'net' has {said}" in str(refused.value) and "\n" not in str(refused.value)


def test_find_needs_a_name_or_a_hash():
    with pytest.raises(TypeError):
        zoo.find()
    assert zoo.find(name="no-such-network") is None


@pytest.mark.parametrize("order", [1, -1])
def test_the_newest_twin_serves_whatever_the_list_order(manifest_at, order):
    twins = [twin("net-int8", "44" * 32), twin("net-int8-v2", "55" * 32), twin("net-int8-v10", "66" * 32)][::order]
    manifest_at([BASE, *twins])
    assert zoo.with_precision(zoo.find("net"), "int8").name == "net-int8-v10"
    assert zoo.find(sha256="44" * 32).name == "net-int8"  # the older ones still decode the files that name them
    statuses = {m["name"]: m["status"] for m in zoo_admin.with_statuses(
        {"models": [BASE, *twins], "operating_points": {"jpeg": [{"quality": 1, "post": "net"}]}})["models"]}
    assert statuses == {"net": "current", "net-int8-v10": "current", "net-int8-v2": "superseded",
                        "net-int8": "superseded"}


def test_two_twins_of_one_version_are_refused(manifest_at):
    manifest_at([BASE, twin("net-int8", "44" * 32), twin("net-int8-v1", "55" * 32)])
    with pytest.raises(HybridCodecError, match="both the newest int8 twin of 'net'"):
        zoo.with_precision(zoo.find("net"), "int8")


# -- atomic writes -------------------------------------------------------------


def _break_rename(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(os, "link", refuse)


def test_a_manifest_update_is_whole_or_nothing(manifest_at, monkeypatch):
    path = manifest_at([BASE])
    zoo_admin._update_manifest(lambda m: {**m, "plain_files": {"jpeg": "net"}})
    assert json.loads(path.read_text())["plain_files"] == {"jpeg": "net"}
    before = path.read_bytes()
    with pytest.raises(HybridCodecError, match="unknown key 'typo'"):  # checked before it is written
        zoo_admin._update_manifest(lambda m: {**m, "models": [{**BASE, "typo": 1}]})
    _break_rename(monkeypatch)
    with pytest.raises(HybridCodecError, match="No space left"):
        zoo_admin._update_manifest(lambda m: {**m, "plain_files": {}})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".manifest.lock", "manifest.json"]


# -- peak memory -----------------------------------------------------------------

BALLAST_MB = 300


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux")
def test_a_child_reports_its_own_peak_not_its_parents():
    """ru_maxrss in a child holds the parent's peak (426 MB measured for a
    36 MB child of a 400 MB parent): bench-large reported that figure."""
    from hybridcodec.tools import bench

    ballast = np.ones(BALLAST_MB * 2**20 // 8)  # touched: this process's peak is above BALLAST_MB
    code = ("import resource; from hybridcodec.tools.peak import peak_rss_mb; "
            "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, rusage = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                            check=True).stdout.split())
    assert own < BALLAST_MB / 2 and rusage > BALLAST_MB  # what each method says of the same child
    rows = bench.large_images([0.02], "jpeg", 30, stream=lambda line: None)
    assert 0 < rows[0]["peak_rss_mb"] < BALLAST_MB
    del ballast


# -- training checkpoints ----------------------------------------------------------


def _images(folder, count=2, size=64):
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        image = np.stack([np.sin(6 * x + i) * 0.5 + 0.5, y, np.cos(5 * y * x + i) * 0.5 + 0.5], axis=2)
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return str(folder)


def _config(tmp_path, **overrides):
    from hybridcodec.tools.training import TrainConfig

    options = dict(codec="jpeg", data=_images(tmp_path / "data"), scale=2, steps=3, batch=4, crop=32,
                   qualities=[20, 50], out=str(tmp_path / "run"), model_kwargs={"depth": 3, "width": 8},
                   val_every=10**6, checkpoint_minutes=10**6)
    return TrainConfig(**(options | overrides))


def _values(variables):
    return [np.asarray(v.numpy()) for v in variables]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_checkpoint_is_keyed_by_names_and_resumes_after_other_networks(tmp_path):
    pytest.importorskip("tensorflow")
    from hybridcodec import models
    from hybridcodec.tools.training import Trainer

    first = Trainer(_config(tmp_path), log=lambda m: None)
    first.run()
    with np.load(first.checkpoint_path) as npz:
        keys = set(npz.files)
    assert {"post/conv2d/kernel", "post/conv2d_2/bias", "post_opt/conv2d_1_kernel_momentum"} <= keys
    assert not [k for k in keys if k.rsplit("/", 1)[-1].isdigit()]
    models.RecCNN(depth=2, width=4)  # Keras numbers the next network's layers after this one's
    second = Trainer(_config(tmp_path, steps=6), log=lambda m: None)
    assert [w.path for w in second.post.weights] != [w.path for w in first.post.weights]
    assert second.load_checkpoint() and second.step == 3
    assert _same(_values(second.post.weights), _values(first.post.weights))
    assert _same(_values(second.post_opt.variables), _values(first.post_opt.variables))


def test_an_index_keyed_checkpoint_of_0_8_0_still_resumes(tmp_path):
    pytest.importorskip("tensorflow")
    from hybridcodec.tools.training import Trainer

    first = Trainer(_config(tmp_path), log=lambda m: None)
    first.run()
    old = {"step": np.array(first.step)}  # as 0.8.0's save_checkpoint wrote it
    for group, variables in {"post": first.post.weights, "post_opt": first.post_opt.variables}.items():
        for k, v in enumerate(variables):
            old[f"{group}/{k}"] = np.asarray(v.numpy())
    np.savez(first.checkpoint_path, **old)
    log = []
    second = Trainer(_config(tmp_path, steps=5), log=log.append)
    assert second.load_checkpoint() and second.step == 3
    assert _same(_values(second.post.weights), _values(first.post.weights))
    assert _same(_values(second.post_opt.variables), _values(first.post_opt.variables))
    second.run()  # on from step 3, and saved by name
    assert second.step == 5 and any("resumed" in line and "step 3" in line for line in log)
    with np.load(second.checkpoint_path) as npz:
        assert "post/conv2d/kernel" in npz.files


@pytest.mark.parametrize("old_format", [False, True])
def test_a_checkpoint_of_another_network_is_refused_in_one_line(tmp_path, old_format):
    pytest.importorskip("tensorflow")
    from hybridcodec.tools.training import Trainer

    first = Trainer(_config(tmp_path), log=lambda m: None)
    first.run()
    if old_format:
        np.savez(first.checkpoint_path, step=np.array(3),
                 **{f"post/{k}": np.asarray(v.numpy()) for k, v in enumerate(first.post.weights)})
    other = Trainer(_config(tmp_path, model_kwargs={"depth": 4, "width": 8}), log=lambda m: None)
    with pytest.raises(HybridCodecError, match="is not a checkpoint of this run's networks") as refused:
        other.load_checkpoint()
    assert "\n" not in str(refused.value) and other.step == 0


def test_a_failed_checkpoint_write_keeps_the_last_one(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    from hybridcodec.tools.training import Trainer

    trainer = Trainer(_config(tmp_path), log=lambda m: None)
    trainer.run()
    before = trainer.checkpoint_path.read_bytes()
    names = sorted(p.name for p in trainer.out.iterdir())
    trainer.step = 99
    _break_rename(monkeypatch)
    with pytest.raises(HybridCodecError, match="No space left"):
        trainer.save_checkpoint()
    assert trainer.checkpoint_path.read_bytes() == before
    assert sorted(p.name for p in trainer.out.iterdir()) == names  # no temporary left behind
