"""Mean PSNR gain over the plain decode of JPEG restoration networks (.keras
files, run in Keras) on the mozjpeg files of a folder of photos, optionally
area-downscaled first (as val-small/ was made).

    python scripts/restore_gain.py ../shared/data/choose --downscale 768 --qualities 13 22 29 \
        runs/jpeg-chroma-low-d20/post.keras runs/jpeg-chroma-low-d20b/post.keras
"""

import argparse

import numpy as np

from hybridcodec import codecs, zoo
from hybridcodec.coding import CodingPath, condition_vector, run_post
from hybridcodec.images import downscaled, list_images, read_rgb
from hybridcodec.metrics import psnr


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("networks", nargs="+", help=".keras restoration networks (jpeg-tables contract)")
    parser.add_argument("--qualities", type=int, nargs="+", required=True, help="mozjpeg qualities")
    parser.add_argument("--downscale", type=int, default=0, help="long side in pixels (default: as they are)")
    args = parser.parse_args()
    nets = [zoo.load_keras_file(path) for path in args.networks]
    backend = codecs.get_codec("jpeg").configured("mozjpeg")
    gains = {path: {q: [] for q in args.qualities} for path in args.networks}
    for image_path in list_images(args.folder):
        rgb = read_rgb(image_path)
        rgb = downscaled(rgb, args.downscale) if args.downscale else rgb
        h, w = rgb.shape[:2]
        for q in args.qualities:
            path = CodingPath(backend, q)
            payload = path.encode(rgb)
            decoded = path.decode(payload, w, h)
            plain = psnr(rgb, decoded)
            condition = condition_vector("jpeg-tables", backend, q, payload)
            for name, net in zip(args.networks, nets, strict=True):
                gains[name][q].append(psnr(rgb, run_post(net, decoded, condition, w, h)) - plain)
    for name, by_q in gains.items():
        means = {q: round(float(np.mean(v)), 4) for q, v in by_q.items()}
        print(name, means, "mean", round(float(np.mean(list(means.values()))), 4))


if __name__ == "__main__":
    main()
