"""Write the fuzzers' seed corpora: fuzz/corpus/hc (.hc files) and fuzz/corpus/native
(native files with the hybridcodec header, and plain JPEG, WebP, AVIF and JPEG XL files).

    python fuzz/make_seeds.py [OUT]     # OUT: default fuzz/corpus

Small images (at most 40x24, and one plain JPEG of 128x96, whose frame
header grown in one field asks for more than fuzz_common's allocation
budget), so an input decodes in milliseconds: the fuzzer's time goes to
many inputs, not to restoring large ones. Each file
also comes in its "valid CRC" form (fuzz_common.with_valid_crc) so the
mutations of both kinds start from a real file. tests/golden/*.hc join hc/.
"""

import io
import shutil
import sys
import warnings
from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image
from skimage import data as images

import hybridcodec

ROOT = Path(__file__).resolve().parent.parent


def small_images() -> dict[str, np.ndarray]:
    photo = np.ascontiguousarray(images.astronaut()[100:124, 150:190])  # 24x40 RGB
    return {"rgb": photo, "odd": photo[:17, :9], "gray": photo[:, :, 1],
            "rgba": np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]), "one": photo[:1, :1]}


def hc_seeds() -> dict[str, bytes]:
    small = small_images()
    seeds = {p.name: p.read_bytes() for p in sorted((ROOT / "tests" / "golden").glob("*.hc"))}
    for codec, scale, kind in (("jpeg", 1, "rgb"), ("jpeg", 2, "odd"), ("webp", 1, "rgba"), ("webp", "4/3", "rgb"),
                               ("avif", 1, "gray"), ("jpegxl", 2, "rgb"), ("png", 1, "rgba"), ("jpeg", 1, "one")):
        options = {} if codec == "png" else {"quality": 40, "scale": scale}
        seeds[f"{codec}-{kind}-s{str(scale).replace('/', '_')}.hc"] = hybridcodec.compress(
            small[kind], codec=codec, **options)
    # the zero byte in place of the CRC: the harness writes a valid one there
    return seeds | {f"crc-{name}": data[:-4] + b"\x00" for name, data in seeds.items()}


def native_seeds() -> dict[str, bytes]:
    small = small_images()
    seeds = {}
    for codec, ext in (("jpeg", "jpg"), ("webp", "webp"), ("avif", "avif"), ("jpegxl", "jxl")):
        for scale, kind in ((1, "rgb"), (2, "odd"), (1, "gray")):
            seeds[f"native-{codec}-{kind}-s{scale}.{ext}"] = hybridcodec.compress(
                small[kind], codec=codec, quality=40, scale=scale, native=True)
    seeds |= {f"crc-{name}": data + b"\x00" for name, data in seeds.items()}
    photo = Image.fromarray(small["rgb"])
    exif = Image.Exif()
    exif[0x010F] = "seed"
    for name, image, options in (
        ("q10", photo, {"quality": 10}), ("q50-444", photo, {"quality": 50, "subsampling": 0}),
        ("q90-422", photo, {"quality": 90, "subsampling": 1}), ("progressive", photo, {"progressive": True}),
        ("optimized", photo, {"optimize": True, "quality": 30}), ("gray", photo.convert("L"), {"quality": 60}),
        ("restarts", photo, {"restart_marker_blocks": 1}), ("cmyk", photo.convert("CMYK"), {}),
        ("exif-icc", photo, {"exif": exif.tobytes(), "icc_profile": b"\0\0\0\x10fake profile"}),
        ("odd", Image.fromarray(small["odd"]), {}), ("one", Image.fromarray(small["one"]), {}),
        ("128x96", Image.fromarray(np.ascontiguousarray(images.astronaut()[100:196, 150:278])), {"quality": 30}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", **options)
        seeds[f"plain-{name}.jpg"] = buffer.getvalue()
    seeds["plain.webp"] = imagecodecs.webp_encode(small["rgb"], level=40)
    seeds["plain-alpha.webp"] = imagecodecs.webp_encode(small["rgba"], level=40)
    seeds["plain.avif"] = imagecodecs.avif_encode(small["rgb"], level=40)
    seeds["plain.jxl"] = imagecodecs.jpegxl_encode(small["rgb"], level=40)
    return seeds


def main(out: Path) -> None:
    for kind, seeds in (("hc", hc_seeds()), ("native", native_seeds())):
        folder = out / kind
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{folder}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # "a native file at scale 2 shows at half size": meant here
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus")
