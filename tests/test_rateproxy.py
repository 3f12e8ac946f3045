"""The JPEG rate proxy follows the shipped encoder's real bytes."""

import numpy as np
from skimage import data

from hybridcodec import codecs, native
from hybridcodec.tools import rateproxy


def test_quantized_coefficients_match_the_encoders_own():
    """With plain rounding (libjpeg-turbo, no trellis) the proxy's quantized
    luma DC terms are the file's, up to the encoder's integer DCT."""
    import io

    import jpeglib
    from PIL import Image

    rgb = data.astronaut()[:64, :64]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=50, subsampling=2)
    tables = native.jpeg_tables(buffer.getvalue())
    luma, _ = rateproxy.quantized(rgb, tables["luma"], tables["chroma"], tables["subsampling"])
    path = "/tmp/hybridcodec-rateproxy-test.jpg"
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    real = jpeglib.read_dct(path).Y  # (rows, cols, 8, 8) quantized
    real_dc = real[:, :, 0, 0].reshape(-1)
    assert np.mean(np.abs(luma[:, 0, 0] - real_dc) <= 1) > 0.95


def test_proxy_fitted_on_some_crops_predicts_others():
    backend = codecs.get_codec("jpeg")
    images = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    rows, sizes, groups = [], [], []
    for i, image in enumerate(images):
        for y in range(0, image.shape[0] - 128, 128):
            for x in range(0, image.shape[1] - 128, 160):
                crop = np.ascontiguousarray(image[y : y + 128, x : x + 128])
                for q in (20, 50, 80):
                    payload = backend.encode(crop, q)
                    tables = native.jpeg_tables(payload)
                    rows.append(rateproxy.features(crop, tables["luma"], tables["chroma"], tables["subsampling"]))
                    sizes.append(len(payload))
                    groups.append(i)
    rows, sizes, groups = np.array(rows), np.array(sizes, float), np.array(groups)
    weights = rateproxy.fit(rows[groups < 3], sizes[groups < 3])
    test = groups == 3  # a photo the fit never saw
    predicted = rateproxy.predict(rows[test], weights)
    assert np.corrcoef(np.log(np.maximum(predicted, 1)), np.log(sizes[test]))[0, 1] > 0.9
    assert np.median(np.abs(predicted / sizes[test] - 1)) < 0.2
