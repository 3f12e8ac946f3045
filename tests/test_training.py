import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorflow")

from hybridcodec import codecs  # noqa: E402
from hybridcodec.tools.training import TrainConfig, Trainer, code_images, make_batch, train  # noqa: E402

TINY_MODEL = {"depth": 4, "width": 16}


def synthetic_images(folder, count=3, size=96, seed=0):
    """Smooth images with hard edges: what JPEG blocks and blurs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        image = np.stack([np.sin(6 * x + i) * 0.5 + 0.5, y, np.cos(5 * y * x + i) * 0.5 + 0.5], axis=2)
        cx, cy, r = rng.uniform(0.2, 0.8, 3)
        image[(x - cx) ** 2 + (y - cy) ** 2 < (r / 3) ** 2] = rng.uniform(0, 1, 3)
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def tiny_config(tmp_path, **overrides):
    options = dict(codec="jpeg", data=str(synthetic_images(tmp_path / "data")), val="", mode="post", scale=2,
                   steps=150, batch=8, crop=32, lr=2e-3, qualities=[20, 50], out=str(tmp_path / "run"),
                   model_kwargs=TINY_MODEL, val_every=10**6)
    options.update(overrides)
    return TrainConfig(**options)


@pytest.mark.slow
def test_tiny_training_gives_a_loadable_model_that_beats_bicubic(tmp_path):
    import keras

    from hybridcodec import scale as scales
    from hybridcodec.coding import run_post
    from hybridcodec.metrics import psnr

    # 600 steps: across seeds 0-2 this gives +0.56 to +0.83 dB, well clear
    # of the bar (150 steps was enough only while crops sat on an 8-pixel grid).
    config = tiny_config(tmp_path, steps=600)
    card = json.loads(train(config).read_text())
    assert card["steps"] == 600
    model = keras.models.load_model(tmp_path / "run" / "post.keras", safe_mode=True)
    trainer = Trainer(config)
    coded = code_images(trainer.train_images, "jpeg", [20, 50], 2)
    gains = []
    for k, decoded in enumerate(coded.decoded):
        original = coded.originals[coded.image_index[k]]
        h, w = original.shape[:2]
        restored = run_post(model, decoded, coded.condition[k][None], w, h)
        gains.append(psnr(original, restored) - psnr(original, scales.parse(2).upscale(decoded, w, h)))
    assert np.mean(gains) > 0.3, gains


def test_same_seed_same_batches(tmp_path):
    trainer = Trainer(tiny_config(tmp_path))
    coded = trainer.code(trainer.train_images, [20])
    a = make_batch(coded, 7, 0, 4, 32, 2)
    b = make_batch(coded, 7, 0, 4, 32, 2)
    c = make_batch(coded, 8, 0, 4, 32, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (4, 32, 32, 3) and a[1].shape == (4, 16, 16, 3)


def test_three_quarter_scale_trains_a_full_size_network_on_the_bicubic_upscale(tmp_path):
    """At 4/3 the codec codes a 72x72 picture of each 96x96 image; the network
    (scale 1) learns from its bicubic upscale, which is what the decoder feeds it."""
    from hybridcodec import scale as scales

    config = tiny_config(tmp_path, scale="4/3", steps=4)
    assert (config.scale.label, config.net_scale) == ("4/3", 1)
    trainer = Trainer(config)
    coded = trainer.code(trainer.train_images, [20])
    backend = codecs.get_codec("jpeg")
    payload = backend.encode(scales.parse("4/3").downscale(trainer.train_images[0]), 20)
    assert backend.decode(payload).shape == (72, 72, 3) and coded.num_bytes[0] == len(payload)
    expected = scales.parse("4/3").upscale(backend.decode(payload), 96, 96)
    assert np.array_equal(coded.decoded[0], expected)
    batch = make_batch(coded, 0, 0, 4, 32, config.net_scale)
    assert batch[0].shape == batch[1].shape == (4, 32, 32, 3)
    card = json.loads(train(config).read_text())
    assert card["config"]["scale"] == "4/3" and trainer.post.scale == 1


def test_resume_continues_from_the_checkpoint_step(tmp_path):
    train(tiny_config(tmp_path, steps=6))
    log = []
    trainer = Trainer(tiny_config(tmp_path, steps=12), log=log.append)
    trainer.run()
    assert any("resumed" in line and "step 6" in line for line in log)
    assert trainer.step == 12
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(1, 13))


@pytest.fixture
def counting_codec():
    @codecs.register
    class CountingJPEG(codecs.JPEG):
        name, codec_id = "counting-jpeg", 250
        calls = 0

        def encode(self, rgb, quality):
            type(self).calls += 1
            return super().encode(rgb, quality)

    yield CountingJPEG
    del codecs._REGISTRY["counting-jpeg"]


def test_joint_alternation_calls_the_real_codec_every_round(tmp_path, counting_codec):
    config = tiny_config(tmp_path, codec="counting-jpeg", mode="joint", steps=12, rounds=2)
    trainer = Trainer(config)
    before = [w.copy() for w in trainer.pre.get_weights()]
    trainer.run()
    images, qualities = len(trainer.train_images), len(config.qualities)
    assert counting_codec.calls == 2 * images * qualities
    assert any(not np.array_equal(a, b) for a, b in zip(before, trainer.pre.get_weights(), strict=False))
    assert (tmp_path / "run" / "pre.keras").exists()


@pytest.mark.slow
def test_distribute_on_two_logical_cpus(tmp_path):
    synthetic_images(tmp_path / "data")
    code = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from hybridcodec.tools.training import TrainConfig, Trainer
        config = TrainConfig(codec="jpeg", data={str(tmp_path / "data")!r}, scale=2, steps=4, batch=4, crop=32,
                             qualities=[30], out={str(tmp_path / "run")!r}, model_kwargs={TINY_MODEL!r},
                             distribute=True)
        trainer = Trainer(config)
        assert trainer.strategy.num_replicas_in_sync == 2
        trainer.run()
        assert trainer.step == 4
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_warm_start_copies_matching_layers(tmp_path):
    from hybridcodec.models import RecCNN, weights_sha256

    donor = RecCNN(scale=1, **TINY_MODEL)
    donor.set_weights([w + 0.5 for w in donor.get_weights()])
    donor.save(tmp_path / "donor.keras")
    trainer = Trainer(tiny_config(tmp_path, scale=1, init=str(tmp_path / "donor.keras")))
    for a, b in zip(trainer.post.get_weights(), donor.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert trainer.init_sha256 == weights_sha256(donor)  # what the model card records


@pytest.mark.parametrize("scale, grown, extra_weights, atol", [
    (1, {"block": 8}, 0, 1e-6),  # new input planes get zero weights
    (2, {"depth": TINY_MODEL["depth"] + 2}, 4, 1e-5),  # new middle layers start as the identity
])
def test_warm_start_into_a_grown_reccnn_keeps_the_function(tmp_path, scale, grown, extra_weights, atol):
    # The warm-started network restores exactly as its donor did before
    # training moves it.
    from hybridcodec.models import RecCNN

    donor = RecCNN(scale=scale, **TINY_MODEL)
    rng = np.random.default_rng(0)
    donor.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in donor.get_weights()])
    donor.save(tmp_path / "donor.keras")
    trainer = Trainer(tiny_config(tmp_path, scale=scale, init=str(tmp_path / "donor.keras"),
                                  model_kwargs={**TINY_MODEL, **grown}))
    inputs = [rng.random((1, 24, 40, 3), dtype=np.float32), np.array([[0.4]], np.float32)]
    assert trainer.post.count_params() > donor.count_params()
    assert len(trainer.post.get_weights()) == len(donor.get_weights()) + extra_weights
    np.testing.assert_allclose(np.asarray(trainer.post(inputs)), np.asarray(donor(inputs)), atol=atol)


def test_a_warm_start_is_validated_before_its_first_step(tmp_path):
    from hybridcodec.models import RecCNN

    RecCNN(scale=1, **TINY_MODEL).save(tmp_path / "donor.keras")
    synthetic_images(tmp_path / "val")
    config = tiny_config(tmp_path, scale=1, steps=2, init=str(tmp_path / "donor.keras"),
                         val=str(tmp_path / "val"), val_qualities=[30])
    train(config)
    records = [json.loads(line) for line in (tmp_path / "run" / "train.log").read_text().splitlines()
               if line.startswith("{")]
    first = records[0]
    assert first["step"] == 0 and first["phase"] == "init"
    assert abs(first["val_gain_db"]) < 1e-6  # an untrained RecCNN is the identity


def test_train_command_passes_the_network_shape_to_the_model(tmp_path):
    import keras

    from hybridcodec.cli import main

    data = synthetic_images(tmp_path / "data")
    out = tmp_path / "run"
    assert main(["train", "--codec", "jpeg", "--data", str(data), "--scale", "2", "--steps", "2",
                 "--batch", "2", "--crop", "32", "--qualities", "30", "--depth", "3", "--width", "8",
                 "--half-resolution", "--bfloat16", "--out", str(out)]) == 0
    config = keras.models.load_model(out / "post.keras", safe_mode=True).get_config()
    assert (config["depth"], config["width"], config["half_resolution"]) == (3, 8, True)
    assert config["compute_dtype"] == "bfloat16"


def test_train_command_refuses_shape_options_the_model_lacks(tmp_path, capsys):
    from hybridcodec.cli import main

    data = synthetic_images(tmp_path / "data")
    out = tmp_path / "run"
    assert main(["train", "--codec", "jpeg", "--data", str(data), "--model", "arcnn", "--depth", "3",
                 "--bfloat16", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == "hybridcodec: error: --model arcnn has no --depth, --bfloat16 option"
    assert not out.exists()


def test_add_downscaled_also_trains_on_smaller_copies(tmp_path):
    """--add-downscaled 64: each 96x96 photo once more at 64x64 (area
    filter, as val-small/ was made); a photo no larger stays as it is."""
    from hybridcodec.images import downscaled

    trainer = Trainer(tiny_config(tmp_path, add_downscaled=64))
    assert [image.shape for image in trainer.train_images] == [(96, 96, 3)] * 3 + [(64, 64, 3)] * 3
    full, small = trainer.train_images[0], trainer.train_images[3]
    assert abs(float(full.mean()) - float(small.mean())) < 1.0  # an average, not a pick of pixels
    wide = np.zeros((30, 90, 3), np.uint8)
    assert downscaled(wide, 45).shape == (15, 45, 3) and downscaled(wide, 90) is wide
    with pytest.raises(ValueError, match="add-downscaled"):
        tiny_config(tmp_path, add_downscaled=-1)


def test_the_adversarial_term_trains_a_discriminator_that_resumes(tmp_path):
    """--adversarial: the discriminator learns to score originals above the
    network's restorations, its weights and optimizer are checkpointed with
    the run, and the restoration network's steps differ from the loss alone."""
    import keras

    from hybridcodec.tools.adversarial import judged

    plain = Trainer(tiny_config(tmp_path / "plain", steps=1, scale=1))
    assert plain.disc is None
    plain.run()
    trainer = Trainer(tiny_config(tmp_path, steps=60, adversarial=0.05, scale=1))
    trainer.run()
    assert all({"adversarial", "discriminator"} <= record.keys() for record in trainer.history)
    first = keras.models.load_model(tmp_path / "plain" / "run" / "post.keras", safe_mode=True)
    with np.load(tmp_path / "run" / "checkpoint.npz") as saved:
        disc_keys = [key for key in saved.files if key.startswith("disc/")]
        assert disc_keys and any(key.startswith("disc_opt/") for key in saved.files)
        kernel = saved[disc_keys[0]]

    original, decoded, _, condition, _ = next(iter(batch_dataset_of(trainer)))
    restored = trainer.post([decoded, condition], training=False)
    real, fake = (float(np.mean(trainer.disc(judged(x, decoded), training=False))) for x in (original, restored))
    assert real > fake + 0.1, (real, fake)

    resumed = Trainer(tiny_config(tmp_path, steps=61, adversarial=0.05, scale=1))
    assert resumed.load_checkpoint() and resumed.step == 60
    np.testing.assert_array_equal(resumed._variables()[disc_keys[0]].numpy(), kernel)
    # one step from the same start: with the term the network moves elsewhere
    again = Trainer(tiny_config(tmp_path / "again", steps=1, adversarial=0.05, scale=1))
    again.run()
    adversarial = keras.models.load_model(tmp_path / "again" / "run" / "post.keras", safe_mode=True)
    assert any(not np.allclose(a, b) for a, b in zip(first.get_weights(), adversarial.get_weights(), strict=True))


def batch_dataset_of(trainer):
    from hybridcodec.tools.training import batch_dataset

    return batch_dataset(trainer.code(trainer.train_images, trainer.config.qualities), trainer.config, 0, 1)


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_train_refuses_an_adversarial_weight_not_above_zero(tmp_path, capsys, weight):
    from hybridcodec.cli import main

    code = main(["train", "--codec", "jpeg", "--data", str(synthetic_images(tmp_path / "data")),
                 "--adversarial", weight, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "--adversarial" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def random_teacher(path, scale=1, **options):
    """A tiny restoration network with random weights, saved: a teacher
    whose output differs from its input everywhere. Its kernels are
    symmetric under the square's flips and turns, so that it restores a
    flipped or turned crop as it does the crop (batches are augmented)."""
    from hybridcodec.models import RESTORATION_MODELS

    def symmetric(w):
        if w.ndim != 4:
            return w
        turns = [np.rot90(w, t, axes=(0, 1)) for t in range(4)]
        return np.mean(turns + [t[:, ::-1] for t in turns], axis=0)

    teacher = RESTORATION_MODELS["reccnn"](scale=scale, **TINY_MODEL, **options)
    rng = np.random.default_rng(1)
    teacher.set_weights([symmetric(rng.normal(0, 0.1, w.shape)).astype(np.float32) for w in teacher.get_weights()])
    teacher.save(path)
    return teacher


def test_a_teacher_s_restorations_are_blended_into_the_targets(tmp_path):
    """--teacher at weight w: each target crop is (original + w x the teacher's
    restoration of the whole file) / (1 + w), cut where the original is."""
    teacher = random_teacher(tmp_path / "teacher.keras")
    trainer = Trainer(tiny_config(tmp_path, scale=1, teacher=str(tmp_path / "teacher.keras"), teacher_weight=3.0))
    cache = trainer.code_training_set()
    assert len(cache.taught) == len(cache.decoded) and cache.taught_weight == 3.0
    taught = make_batch(cache, 5, 0, 4, 32, 1)
    cache.taught = []
    plain = make_batch(cache, 5, 0, 4, 32, 1)
    np.testing.assert_array_equal(taught[1], plain[1])  # the same crops
    recovered = (4.0 * taught[0] - plain[0]) / 3.0  # the teacher's part of the target
    assert np.abs(recovered - plain[0]).mean() > 0.05  # the teacher does change the target
    expected = np.clip(teacher([plain[1], plain[3]], training=False).numpy(), 0, 1)
    # away from the crop's border, where the whole file gave the teacher more context
    np.testing.assert_allclose(recovered[:, 8:-8, 8:-8], expected[:, 8:-8, 8:-8], atol=1.5 / 255)


def test_the_card_names_the_teacher_by_its_hash(tmp_path):
    from hybridcodec.models import weights_sha256

    teacher = random_teacher(tmp_path / "teacher.keras")
    config = tiny_config(tmp_path, steps=2, scale=1, teacher=str(tmp_path / "teacher.keras"))
    card = json.loads(train(config).read_text())
    assert card["teacher"] == {"file": str(tmp_path / "teacher.keras"), "sha256": weights_sha256(teacher),
                               "weight": 1.0}
    assert json.loads(train(tiny_config(tmp_path / "alone", steps=1, scale=1)).read_text())["teacher"] is None


@pytest.mark.parametrize("case", ["another condition", "another scale", "joint mode", "weight 0"])
def test_train_refuses_a_teacher_that_does_not_fit_in_one_line(tmp_path, capsys, case):
    from hybridcodec.cli import main

    options = {"another condition": {"condition": "jpeg-tables"}, "another scale": {"scale": 2}}.get(case, {})
    random_teacher(tmp_path / "teacher.keras", **options)
    args = ["train", "--codec", "jpeg", "--data", str(synthetic_images(tmp_path / "data")), "--steps", "1",
            "--depth", "4", "--width", "16", "--teacher", str(tmp_path / "teacher.keras"),
            "--out", str(tmp_path / "run")]
    args += {"joint mode": ["--mode", "joint", "--scale", "2"], "weight 0": ["--teacher-weight", "0"]}.get(case, [])
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0 and "--teacher" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run" / "post.keras").exists()


def test_train_refuses_a_teacher_weight_without_a_teacher(tmp_path, capsys):
    from hybridcodec.cli import main

    code = main(["train", "--codec", "jpeg", "--data", str(synthetic_images(tmp_path / "data")),
                 "--teacher-weight", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "--teacher" in err and len(err.strip().splitlines()) == 1, err
