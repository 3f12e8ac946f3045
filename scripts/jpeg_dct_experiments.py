"""Two classical JPEG-domain ideas measured against the shipped pipeline.

1. Quantisation-constraint projection at the decoder (Zakhor 1992; Yang,
   Galatsanos and Katsaggelos 1993): the original's luma DCT coefficients lie
   in the quantisation bins the decoded file names, so clipping the restored
   image's coefficients into those bins can only move it closer (in the luma
   DCT domain) to the original.
2. Dead-zone pre-editing at the encoder (in the spirit of Ramchandran and
   Vetterli 1994, "Rate-distortion optimal fast thresholding with complete
   JPEG/MPEG decoder compatibility"): edit the image so that libjpeg's rounding
   picks index floor(|c|/Q + f) instead of round(|c|/Q) for AC coefficients,
   saving bits on coefficients just above half a step. The file stays a
   standard JPEG from the same encoder with the same settings.

Usage: python scripts/jpeg_dct_experiments.py VAL_FOLDER
Prints, per quality, the mean PSNR change of (1) and the BD-rate of (2)
against the plain codec and against the shipped hybrid pipeline (the JPEG
table's scale, codec quality and network at each quality, on libjpeg's
files, as first measured). docs/MODELS.md's figures are of the 10x32
networks shipped then.
"""

import argparse
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import scipy.fft

from hybridcodec import codecs, zoo
from hybridcodec.coding import CodingPath
from hybridcodec.images import read_rgb
from hybridcodec.metrics import bd_rate, psnr
from hybridcodec.native import jpeg_luma_table

QUALITIES = [5, 10, 20, 30, 40, 50, 60, 70, 80, 90]


def luma_table(jpeg: bytes) -> np.ndarray:
    """The 8x8 luminance quantisation table of a JPEG, in natural order."""
    table = jpeg_luma_table(jpeg)
    if table is None:
        raise ValueError("no luminance quantisation table")
    return np.array(table, np.float64).reshape(8, 8)


def luma_dct(rgb: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(H/8, W/8, 8, 8) DCT of the level-shifted BT.601 luma, in quantiser steps."""
    r, g, b = np.moveaxis(rgb.astype(np.float64), -1, 0)
    y = 0.299 * r + 0.587 * g + 0.114 * b - 128
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    blocks = y[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
    return scipy.fft.dctn(blocks, axes=(2, 3), norm="ortho") / table


def add_luma(rgb: np.ndarray, steps: np.ndarray, table: np.ndarray) -> np.ndarray:
    """rgb plus the luma change whose DCT is ``steps`` quantiser steps (chroma kept)."""
    delta = scipy.fft.idctn(steps * table, axes=(2, 3), norm="ortho")
    bh, bw = delta.shape[:2]
    plane = np.zeros(rgb.shape[:2])
    plane[: bh * 8, : bw * 8] = delta.transpose(0, 2, 1, 3).reshape(bh * 8, bw * 8)
    return rgb.astype(np.float64) + plane[:, :, None]  # equal R, G, B change = pure luma


def project(restored: np.ndarray, jpeg: bytes, scale) -> np.ndarray:
    """Clip the restored image's luma DCT into the bins of the decoded file."""
    table = luma_table(jpeg)
    decoded = imagecodecs.jpeg8_decode(jpeg, outcolorspace="YCbCr")[:, :, 0]
    index = np.rint(luma_dct(np.repeat(decoded[:, :, None], 3, axis=2), table))
    coded = scale.downscale(restored).astype(np.float64)
    steps = luma_dct(coded, table)
    change = np.clip(steps, index - 0.5, index + 0.5) - steps
    moved = add_luma(np.zeros_like(coded, np.float64), change, table)
    # each coded pixel's change over the pixels it covers (at 4/3 as nearly as a resize can)
    moved = cv2.resize(moved, (restored.shape[1], restored.shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.clip(np.rint(restored + moved), 0, 255).astype(np.uint8)


def dead_zone(rgb: np.ndarray, quality: int, rounding: float) -> np.ndarray:
    """Edit ``rgb`` so that JPEG at ``quality`` codes AC index floor(|c|/Q + rounding)."""
    table = luma_table(imagecodecs.jpeg8_encode(np.zeros((8, 8, 3), np.uint8), level=quality))
    steps = luma_dct(rgb, table)
    target = np.sign(steps) * np.floor(np.abs(steps) + rounding)
    edit = np.abs(target) < np.rint(np.abs(steps))
    edit[:, :, 0, 0] = False  # DC is predicted from its neighbour: leave it
    change = np.where(edit, target - steps, 0.0)
    return np.clip(np.rint(add_luma(rgb, change, table)), 0, 255).astype(np.uint8)


def jpeg(rgb, quality):
    return bytes(imagecodecs.jpeg8_encode(rgb, level=quality, subsampling="420", optimize=True))


def main(folder):
    images = [read_rgb(p) for p in sorted(Path(folder).glob("*.png"))]
    pixels = [im.shape[0] * im.shape[1] for im in images]
    curves = {}  # name -> (bpp, psnr) per quality, averaged over images
    print("quality | scale | hybrid PSNR | projected - hybrid (dB)")
    for quality in QUALITIES:
        point = zoo.operating_point("jpeg", quality)
        model = zoo.load(point.post) if point.post is not None else None  # None: the classical upscale
        sums = {}
        for image, n in zip(images, pixels, strict=False):
            h, w = image.shape[:2]
            compact = point.scale.downscale(image)
            for name, source, q, net in [
                ("plain", image, quality, False),
                ("hybrid", compact, point.codec_quality, True),
                ("plain+dz", dead_zone(image, quality, 1 / 3), quality, False),
                ("hybrid+dz", dead_zone(compact, point.codec_quality, 1 / 3), point.codec_quality, True),
            ]:
                data = jpeg(source, q)
                out = imagecodecs.jpeg8_decode(data)
                if net:
                    out = CodingPath(codecs.get_codec("jpeg"), q, point.scale, post=model).restore(out, w, h, data)
                sums.setdefault(name, []).append((len(data) * 8 / n, psnr(image, out)))
                if name == "hybrid":
                    sums.setdefault("projected", []).append((0, psnr(image, project(out, data, point.scale))))
        means = {k: np.mean(v, axis=0) for k, v in sums.items()}
        for k, v in means.items():
            curves.setdefault(k, ([], []))
            curves[k][0].append(v[0])
            curves[k][1].append(v[1])
        print(f"{quality} | {point.scale} | {means['hybrid'][1]:.3f} | "
              f"{means['projected'][1] - means['hybrid'][1]:+.4f}", flush=True)
    print(f"dead zone (f = 1/3) on plain JPEG: BD-rate {bd_rate(*curves['plain'], *curves['plain+dz']):+.2f}%")
    print(f"dead zone (f = 1/3) under the hybrid pipeline: BD-rate "
          f"{bd_rate(*curves['hybrid'], *curves['hybrid+dz']):+.2f}% against the hybrid")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="PNG photos, e.g. ../shared/data/val")
    main(parser.parse_args().folder)
