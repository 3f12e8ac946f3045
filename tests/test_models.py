import numpy as np
import pytest

keras = pytest.importorskip("keras")

from hybridcodec import scale as scales  # noqa: E402
from hybridcodec.models import ARCNN, ARCNNASPP, BlockPosition, ComCNN, RecCNN, RecUNet, weights_sha256  # noqa: E402
from hybridcodec.tools.losses import LOSSES, get_loss, ms_ssim_scales  # noqa: E402

RESTORATION = [
    lambda: RecCNN(scale=1, depth=4, width=16),
    lambda: RecCNN(scale=2, depth=4, width=16),
    lambda: RecCNN(scale=2, depth=4, width=16, batch_norm=True),
    lambda: RecCNN(scale=1, depth=4, width=16, half_resolution=True),
    lambda: RecCNN(scale=2, depth=4, width=16, half_resolution=True),
    lambda: RecCNN(scale=1, depth=4, width=16, block=8),
    lambda: RecCNN(scale=2, depth=4, width=16, block=16),
    lambda: RecCNN(scale=1, depth=4, width=16, compute_dtype="bfloat16"),
    lambda: RecUNet(scale=1, width=8),
    lambda: RecUNet(scale=2, width=8, blocks=1),
    lambda: ARCNN(scale=1),
    lambda: ARCNNASPP(scale=1),
    lambda: ARCNNASPP(scale=2),
]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("make", RESTORATION)
@pytest.mark.parametrize("size", [(17, 23), (1, 1), (32, 9)])
def test_restoration_output_is_full_size_for_odd_sizes(make, size):
    model = make()
    h, w = size
    out = model([rand(2, h, w, 3), np.full((2, 1), 0.5, np.float32)], training=False)
    assert tuple(out.shape) == (2, h * model.scale, w * model.scale, 3)


@pytest.mark.parametrize("size", [(17, 23), (1, 1), (64, 33)])
def test_comcnn_gives_half_size_and_starts_as_area_downscale(size):

    model = ComCNN(scale=2)
    image = rand(1, *size, 3)
    out = np.asarray(model(image, training=False))
    assert out.shape == (1, -(-size[0] // 2), -(-size[1] // 2), 3)
    if size[0] % 2 == 0 and size[1] % 2 == 0:  # untrained: exactly the classical path
        expected = scales.HALF.downscale((image[0] * 255).astype(np.float32)) / 255
        np.testing.assert_allclose(out[0], expected, atol=1e-5)


@pytest.mark.parametrize("make", RESTORATION + [lambda: ComCNN(scale=2)])
def test_save_and_load_in_safe_mode_give_identical_outputs(make, tmp_path):
    model = make()
    # move the weights off their initial values so the comparison means something
    model.set_weights([w + rand(*w.shape, seed=i) * 0.01 for i, w in enumerate(model.get_weights())])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    inputs = rand(1, 20, 14, 3) if isinstance(model, ComCNN) else [rand(1, 20, 14, 3), np.array([[0.3]], np.float32)]
    np.testing.assert_array_equal(np.asarray(model(inputs)), np.asarray(loaded(inputs)))
    assert type(loaded) is type(model)
    assert weights_sha256(loaded) == weights_sha256(model)


def test_block_position_marks_row_and_column_phase():
    planes = np.asarray(BlockPosition(8)(np.zeros((2, 19, 12, 3), np.float32)))[..., 3:]
    assert planes.shape == (2, 19, 12, 16)
    for y, x in [(0, 0), (7, 11), (17, 8)]:
        expected = np.zeros(16)
        expected[y % 8], expected[8 + x % 8] = 1, 1
        np.testing.assert_array_equal(planes[1, y, x], expected)


def test_weights_hash_changes_with_the_weights():
    model = RecCNN(scale=1, depth=3, width=8)
    before = weights_sha256(model)
    model.set_weights([w + 1 for w in model.get_weights()])
    assert weights_sha256(model) != before


@pytest.mark.parametrize("fast", [True, False])
def test_bfloat16_model_matches_float32_and_falls_back_where_slow(fast, monkeypatch):
    import hybridcodec.models as models

    monkeypatch.setattr(models, "bfloat16_is_fast", lambda: fast)
    reference = RecCNN(scale=1, depth=4, width=16)
    weights = [w + rand(*w.shape, seed=i) * 0.05 for i, w in enumerate(reference.get_weights())]
    reference.set_weights(weights)
    model = RecCNN(scale=1, depth=4, width=16, compute_dtype="bfloat16")
    model.set_weights(weights)
    policies = {layer.dtype_policy.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    assert policies == ({"mixed_bfloat16", "float32"} if fast else {"float32"})
    inputs = [rand(1, 24, 16, 3), np.array([[0.4]], np.float32)]
    out, expected = np.asarray(model(inputs)), np.asarray(reference(inputs))
    assert out.dtype == np.float32  # the image itself is never bfloat16
    np.testing.assert_allclose(out, expected, rtol=0.02, atol=0.02)
    assert weights_sha256(model) == weights_sha256(reference)  # files name the same model


def test_unknown_compute_dtype_is_refused():
    with pytest.raises(ValueError, match="compute_dtype"):
        RecCNN(depth=3, width=8, compute_dtype="float16")


def test_paper_configuration_is_available():
    model = RecCNN.paper()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 20 and all(c.filters == 64 for c in convs[:-1])
    assert model.scale == 2


def test_short_training_lowers_the_loss():
    keras.utils.set_random_seed(0)
    clean = rand(32, 16, 16, 3)
    noisy = np.clip(clean + rand(32, 16, 16, 3, seed=1) * 0.2 - 0.1, 0, 1)
    quality = np.full((32, 1), 0.5, np.float32)
    model = RecCNN(scale=1, depth=3, width=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=get_loss("mse"))
    losses = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    model.fit([noisy, quality], clean, batch_size=8, epochs=10, verbose=0, shuffle=False, callbacks=[callback])
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_each_loss_is_zero_for_identical_images_and_grows_with_noise(name):
    loss = get_loss(name)
    image = rand(2, 64, 64, 3)
    values = [float(loss(image, np.clip(image + sigma * (rand(2, 64, 64, 3, seed=3) - 0.5), 0, 1)))
              for sigma in (0.0, 0.05, 0.2, 0.5)]
    assert abs(values[0]) < 1e-5
    assert values[0] < values[1] < values[2] < values[3]


def test_the_texture_term_charges_a_blur_more_than_mse_does():
    from scipy.ndimage import uniform_filter

    image = rand(2, 64, 64, 3)
    blurred = uniform_filter(image, size=(1, 3, 3, 1)).astype(np.float32)
    mse, with_texture = float(get_loss("mse")(image, blurred)), float(get_loss("mse+texture")(image, blurred))
    assert with_texture > 1.2 * mse  # the blur removed local contrast, which the term sees
    noise = np.clip(image + 0.1 * (rand(2, 64, 64, 3, seed=3) - 0.5), 0, 1)
    assert float(get_loss("mse+texture")(image, noise)) < 1.2 * float(get_loss("mse")(image, noise))


@pytest.mark.parametrize("quality", [10, 40, 90])
def test_the_ssimulacra2_loss_scores_as_the_package_does(quality):
    """The loss is SSIMULACRA2 itself: its score matches the package bench
    uses, on a picture of odd width (the package's edge handling) at three
    JPEG qualities."""
    import io

    from PIL import Image
    from skimage import data

    from hybridcodec.metrics import ssimulacra2
    from hybridcodec.tools.losses import ssimulacra2_distortion, ssimulacra2_from_distortion

    image = data.chelsea()  # 300 x 451
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer))
    distortion = ssimulacra2_distortion(image[None] / 255.0, decoded[None] / 255.0)
    assert float(ssimulacra2_from_distortion(distortion)[0]) == pytest.approx(ssimulacra2(image, decoded), abs=0.05)


def test_the_ssimulacra2_loss_has_a_finite_gradient_at_identical_images():
    import tensorflow as tf

    from hybridcodec.tools.losses import ssimulacra2_loss

    x = tf.Variable(rand(2, 32, 32, 3))
    with tf.GradientTape() as tape:
        loss = ssimulacra2_loss(tf.identity(x), x)
    assert np.isfinite(tape.gradient(loss, x).numpy()).all()


def test_ms_ssim_uses_fewer_scales_on_small_crops():
    assert ms_ssim_scales(176) == 5
    assert ms_ssim_scales(128) == 4
    assert ms_ssim_scales(64) == 3


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("perceptual")
