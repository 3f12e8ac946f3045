"""Decoding payloads safely (issue #38): every payload's own declared size is
read and checked before any decoder runs, every decoder's output is checked in
one place (uint8 RGB of the coded size), image sequences are refused, and
plain JPEGs with unusual but legal marker layouts decode.

The small files in tests/hostile/ are made by tests/hostile/make_files.py."""

import io
import struct
import warnings
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec import HybridCodecError, codecs, container, native, zoo
from hybridcodec.pipeline import decode, read_file

HOSTILE = Path(__file__).parent / "hostile"
LOSSY = ["jpeg", "webp", "avif", "jpegxl"]


def hostile(name: str) -> bytes:
    return (HOSTILE / name).read_bytes()


def hc_file(codec: str, payload: bytes, width: int, height: int, channels: int = 3, alpha: bytes = b"") -> bytes:
    return container.pack(container.HCFile(container.Header(codec, 50, width, height, channels), payload, alpha))


@pytest.fixture
def decoder_calls(monkeypatch):
    """Records every call of a codec's decoder (and still decodes)."""
    calls = []
    for name in codecs.names():
        backend = type(codecs.by_name(name))

        def recording(self, data, _decode=backend.decode):
            calls.append(self.name)
            return _decode(self, data)

        monkeypatch.setattr(backend, "decode", recording)
    return calls


def rgb(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(width * height).integers(0, 256, (height, width, 3), np.uint8)


def test_the_recorder_sees_a_decode(decoder_calls):
    hybridcodec.decompress(hc_file("png", codecs.get_codec("png").encode(rgb(8, 8), 0), 8, 8))
    assert decoder_calls == ["png"]  # so an empty record below means no decoder ran


# -- 1. every payload's own size, before any decode ------------------------------


def test_a_plain_jpeg_declaring_60000x60000_is_refused_before_libjpeg_runs(decoder_calls):
    # 631 bytes: libjpeg-turbo took 10 GB and 64 s before the size check that ran after it
    with pytest.raises(HybridCodecError, match="60000x60000 = 3600000000 pixels exceeds the limit"):
        hybridcodec.decompress(hostile("jpeg-declares-60000x60000.jpg"))
    assert decoder_calls == []


def test_a_hc_file_whose_jpeg_declares_another_size_is_refused_before_decoding(decoder_calls):
    with pytest.raises(HybridCodecError, match="jpeg payload declares 60000x60000, header says 16x16"):
        hybridcodec.decompress(hostile("hc-jpeg-declares-60000x60000.hc"))
    assert decoder_calls == []


@pytest.mark.parametrize("codec", ["png", *LOSSY])
def test_a_payload_larger_than_its_header_is_refused_before_decoding(codec, decoder_calls):
    payload = codecs.get_codec(codec).encode(rgb(32, 24), 50)
    with pytest.raises(HybridCodecError, match=f"{codec} payload declares 32x24, header says 16x16"):
        hybridcodec.decompress(hc_file(codec, payload, 16, 16))
    # a native file: the header inside says 16x16, the picture is 32x24 (a WebP's VP8X canvas says 16x16)
    if codec != "png":
        inner = container.pack(container.HCFile(container.Header(codec, 50, 16, 16, 3), b""))
        with pytest.raises(HybridCodecError, match="payload (declares|does not decode: its canvas is 16x16 "
                                                   "but its image) 32x24"):
            hybridcodec.decompress(codecs.get_codec(codec).embed(payload, inner, 16, 16))
    assert decoder_calls == []


def test_the_declared_size_is_of_the_coded_picture_at_the_files_scale(photo):
    data = hybridcodec.compress(photo[:, :100], codec="webp", quality=40, scale=2)  # 100x96: coded 50x48
    hc = read_file(data)
    assert codecs.get_codec("webp").declared_size(hc.payload) == (50, 48)
    assert hybridcodec.decompress(data).shape == (96, 100, 3)


@pytest.mark.parametrize("codec", LOSSY)
def test_a_plain_file_over_max_pixels_is_refused_before_decoding(codec, decoder_calls):
    payload = codecs.get_codec(codec).encode(rgb(32, 24), 50)
    with pytest.raises(HybridCodecError, match="32x24 = 768 pixels exceeds the limit of 700"):
        hybridcodec.decompress(payload, quality=None if codec == "jpeg" else 50, max_pixels=700)
    assert decoder_calls == []


@pytest.mark.parametrize("codec", ["png", *LOSSY])
@pytest.mark.parametrize("size", [(1, 1), (8, 8), (33, 17), (120, 100), (400, 300), (160, 90), (7, 513), (264, 256)])
def test_the_declared_size_is_the_decoded_size(codec, size):
    # JPEG XL codes these as small sizes, ratios (12:10, 4:3, 16:9) and plain sides
    backend = codecs.get_codec(codec)
    payload = backend.encode(rgb(*size), 50)
    assert backend.declared_size(payload) == size
    assert backend.decode(payload).shape == (size[1], size[0], 3)


def test_webp_sizes_of_every_kind_of_file():
    picture = rgb(45, 30)
    lossless = bytes(imagecodecs.webp_encode(picture, lossless=True))  # VP8L
    assert lossless[12:16] == b"VP8L" and native.webp_size(lossless) == (45, 30)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([picture, picture[:, :, 0]])).save(buffer, "WEBP")  # VP8X, ALPH, VP8
    assert buffer.getvalue()[12:16] == b"VP8X" and native.webp_size(buffer.getvalue()) == (45, 30)
    lying = bytearray(buffer.getvalue())
    lying[24:27] = (999).to_bytes(3, "little")  # the canvas width says 1000
    with pytest.raises(ValueError, match="canvas is 1000x30 but its image 45x30"):
        native.webp_size(bytes(lying))


def test_a_jpeg_of_many_empty_scans_is_refused_before_decoding(decoder_calls):
    # libjpeg-turbo passes over the whole image for each scan: 10,000 empty
    # scans in a 125 KB file of 2048x2048 took 36 s
    buffer = io.BytesIO()
    Image.fromarray(rgb(64, 64)).save(buffer, "JPEG", progressive=True)
    jpeg = buffer.getvalue()
    empty_scan = bytes.fromhex("ffda0008010100013f10")  # an AC refinement scan of luma, no data
    assert codecs.get_codec("jpeg").declared_size(jpeg[:-2] + empty_scan * 80 + jpeg[-2:]) == (64, 64)
    with pytest.raises(HybridCodecError, match="jpeg payload does not decode: 1010 scans, more than the 100"):
        hybridcodec.decompress(jpeg[:-2] + empty_scan * 1000 + jpeg[-2:])
    assert decoder_calls == []


def test_a_jpeg_with_data_after_its_end_is_not_refused_for_scans_it_does_not_hold():
    # a Motion Photo appends an MP4 after EOI; random bytes hold FF DA once in
    # 64 KB, so 8 MB of them counted as 120 scans before 0.8.0
    buffer = io.BytesIO()
    Image.fromarray(rgb(64, 64)).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue() + b"\x00\xff\xda" * 200
    assert codecs.get_codec("jpeg").declared_size(jpeg) == (64, 64)
    assert codecs.get_codec("jpeg").decode(jpeg).shape == (64, 64, 3)


def test_jpeg_tables_are_read_in_natural_order():
    # Pillow writes the IJG tables unscaled at quality 50; before 0.8.0 they
    # came back transposed (first row 16 12 14 14 18 24 49 72)
    buffer = io.BytesIO()
    Image.fromarray(rgb(16, 16)).save(buffer, "JPEG", quality=50)
    tables = native.jpeg_tables(buffer.getvalue())
    assert tables["luma"] == codecs._IJG_LUMA and tables["luma"][:8] == [16, 11, 10, 16, 24, 40, 51, 61]
    assert tables["chroma"] == codecs._IJG_CHROMA


def test_avif_is_unavailable_without_pillows_avif_plugin(monkeypatch):
    # its payloads' sizes are read by Pillow: without it every one is refused
    monkeypatch.setattr(codecs, "_pillow_has_avif", lambda: False)
    assert not codecs.by_name("avif").available()


def test_a_codec_with_standard_files_must_read_their_size():
    # pipeline.read_file reads a plain file's declared size before decoding it
    class Sizeless(codecs.JPEG):
        name, codec_id, size_reader = "sizeless", 251, None

    with pytest.raises(ValueError, match="'sizeless' has standard files but no size_reader"):
        codecs.register(Sizeless)
    assert "sizeless" not in codecs.names()


def test_an_avif_whose_ispe_box_lies_is_refused_before_decoding(decoder_calls):
    # imagecodecs decoded this 16x16 picture to a 16000x16000 array (768 MB)
    data = bytearray(codecs.get_codec("avif").encode(rgb(16, 16), 50))
    box = data.index(b"ispe")
    data[box + 8 : box + 16] = struct.pack(">II", 16000, 16000)
    with pytest.raises(HybridCodecError, match="avif payload declares 16000x16000, header says 16x16"):
        hybridcodec.decompress(hc_file("avif", bytes(data), 16, 16))
    assert decoder_calls == []


def test_an_avif_whose_av1_frame_is_larger_than_its_ispe_box_is_refused_before_decoding(decoder_calls):
    # libavif decodes the AV1 frame whatever ispe says, then crops: a 790-byte
    # file saying 16x16 over a 6000x6000 frame took 3 s
    data = bytearray(imagecodecs.avif_encode(np.full((256, 256, 3), 90, np.uint8), level=30, speed=10))
    box = data.index(b"ispe")
    data[box + 8 : box + 16] = struct.pack(">II", 16, 16)
    for blob in (hc_file("avif", bytes(data), 16, 16), bytes(data)):
        with pytest.raises(HybridCodecError, match="its AV1 data is up to 256x256, its header says 16x16"):
            hybridcodec.decompress(blob, quality=50)
    assert decoder_calls == []


@pytest.mark.parametrize("codec", ["png", *LOSSY])
def test_a_payload_without_a_readable_header_is_refused_in_one_line(codec, decoder_calls):
    payload = codecs.get_codec(codec).encode(rgb(16, 16), 50)
    for broken in (payload[:2], b"\x00" * 40):
        with pytest.raises(HybridCodecError, match=f"{codec} payload does not decode: [^\n]+$"):
            hybridcodec.decompress(hc_file(codec, broken, 16, 16))
    assert decoder_calls == []


# -- 2. what a decoder hands back is checked in one place ------------------------


@pytest.mark.parametrize("name, dtype", [("hc-png-16-bit.hc", "uint16"), ("hc-avif-10-bit.hc", "uint16"),
                                         ("hc-jpegxl-16-bit.hc", "uint16")])
def test_a_payload_that_decodes_to_more_than_8_bits_is_refused(name, dtype):
    with pytest.raises(HybridCodecError, match=f"payload decodes to {dtype} of shape \\(8, 8, 3\\), not 8-bit RGB"):
        hybridcodec.decompress(hostile(name))


def test_a_16_bit_alpha_plane_is_refused():
    with pytest.raises(HybridCodecError, match="alpha payload decodes to uint16"):
        hybridcodec.decompress(hostile("hc-alpha-16-bit.hc"))


def test_an_alpha_plane_of_another_size_is_refused_before_decoding():
    alpha = codecs.get_codec("png").encode_plane(np.zeros((9, 9), np.uint8))
    data = hc_file("png", codecs.get_codec("png").encode(rgb(8, 8), 0), 8, 8, 4, alpha)
    with pytest.raises(HybridCodecError, match="alpha payload does not match the image size"):
        hybridcodec.decompress(data)


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_a_gray_gray_alpha_or_rgba_payload_under_an_rgb_header_gives_the_headers_rgb(channels):
    plane = np.arange(64, dtype=np.uint8).reshape(8, 8)
    payload = bytes(imagecodecs.png_encode(np.dstack([plane] * channels) if channels > 1 else plane))
    image = hybridcodec.decompress(hc_file("png", payload, 8, 8))
    assert image.dtype == np.uint8 and image.shape == (8, 8, 3)
    assert (image == plane[:, :, None]).all()  # the first channel, as gray


@pytest.mark.parametrize("channels, shape", [(1, (8, 8)), (2, (8, 8, 2)), (3, (8, 8, 3)), (4, (8, 8, 4))])
def test_the_final_image_has_the_headers_channels_whatever_the_payload_holds(channels, shape):
    payload = bytes(imagecodecs.png_encode(np.full((8, 8, 2), 90, np.uint8)))  # gray+alpha, under any header
    alpha = codecs.get_codec("png").encode_plane(np.full((8, 8), 7, np.uint8)) if channels in (2, 4) else b""
    image = hybridcodec.decompress(hc_file("png", payload, 8, 8, channels, alpha))
    assert image.dtype == np.uint8 and image.shape == shape
    assert (image[..., : 1 if channels <= 2 else 3] == 90).all()
    if alpha:
        assert (image[..., -1] == 7).all()


def test_the_gray_alpha_regression_file():
    image = hybridcodec.decompress(hostile("hc-png-gray-alpha.hc"))
    assert image.dtype == np.uint8 and image.shape == (8, 8, 3) and (image == 200).all()


# -- 3. image sequences ------------------------------------------------------------


@pytest.mark.parametrize("name, what", [("avif-sequence.avifs", "an image sequence of 3 frames"),
                                        ("webp-animated.webp", "an animated WebP"),
                                        ("jpegxl-animated.jxl", "an animated JPEG XL")])
def test_an_image_sequence_is_refused_in_one_line_before_decoding(name, what, decoder_calls):
    # an AVIF sequence ended in ONNX Runtime's "Invalid rank" (imagecodecs hands
    # every frame back; with index=0 it crashed the process)
    with pytest.raises(HybridCodecError, match=f"payload does not decode: {what}[^\n]*$"):
        hybridcodec.decompress(hostile(name), quality=50)
    assert decoder_calls == []


# -- 4. plain JPEGs of unusual but legal layouts ------------------------------------


def _plain_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb(32, 24)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["jpeg-tables-after-frame-header.jpg", "jpeg-fill-bytes-and-junk.jpg",
                                  "two-images.mpo"])
def test_tables_are_read_wherever_they_are_before_the_first_scan(name):
    data = hostile(name)
    tables = native.jpeg_tables(data)
    assert tables is not None and tables["subsampling"] == (2, 2)
    assert tables["luma"][0] == 13 and tables["chroma"][0] == 14  # Pillow's IJG tables at quality 60
    assert codecs.get_codec("jpeg").estimate_quality(data) == 60
    image = hybridcodec.decompress(data)  # no --quality: the tables say it
    assert image.dtype == np.uint8 and image.shape == (24, 32, 3)


def test_a_plain_jpeg_whose_tables_cannot_be_read_still_decodes_given_its_quality(monkeypatch):
    data = _plain_jpeg()
    monkeypatch.setattr(native, "jpeg_tables", lambda data: None)  # as for a table defined after the first scan
    with pytest.raises(HybridCodecError, match="give its --quality"):
        hybridcodec.decompress(data)
    with pytest.warns(UserWarning, match="decoded without a restoration network"):
        decoded = decode(data, quality=60)
    assert decoded.image.shape == (24, 32, 3) and decoded.hc.header.models == []
    assert np.array_equal(decoded.image, imagecodecs.jpeg8_decode(data))


def test_a_cmyk_jpeg_is_refused_in_one_line():
    with pytest.raises(HybridCodecError, match="a CMYK JPEG \\(4 components\\)"):
        hybridcodec.decompress(hostile("jpeg-cmyk.jpg"))


def test_the_default_networks_still_serve_plain_jpegs():
    hc = read_file(hostile("two-images.mpo"))
    assert hc.header.models == [zoo.plain_file_network("jpeg", 60).ref]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hybridcodec.decompress(hostile("two-images.mpo"))
