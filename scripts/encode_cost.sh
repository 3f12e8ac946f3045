#!/bin/bash
# Cold encode cost of `hybridcodec compress` (issue #21's item 3): wall
# seconds, peak RSS (KB) and bytes of three runs each, at JPEG quality 10,
# for a 768-pixel photo and a 4000x3000 one; then the plain mozjpeg encode
# in-process, for the bound. Run from the repository root with the venv's
# hybridcodec on PATH:
#
#     PATH=$PWD/.venv/bin:$PATH bash scripts/encode_cost.sh [../shared/data]
set -euo pipefail
data=$(realpath "${1:-../shared/data}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python - "$data" <<'PY'
import sys
from PIL import Image
Image.open(f"{sys.argv[1]}/val-small/041.png").convert("RGB").save("small.png")
Image.open(f"{sys.argv[1]}/val/041.png").convert("RGB").resize((4000, 3000), Image.LANCZOS).save("big.png")
PY
run() {
    name=$1; shift
    for _ in 1 2 3; do
        rm -f out.hc
        /usr/bin/time -f "%e %M" -o t.txt hybridcodec compress "$@" -o out.hc -q
        echo "$name $(cat t.txt) $(stat -c %s out.hc)"
    done
}
run auto small.png --codec jpeg --quality 10
run auto-pre-edit small.png --codec jpeg --quality 10 --pre-edit
run table small.png --codec jpeg --quality 10 --scale table
run auto-12mp big.png --codec jpeg --quality 10
run table-12mp big.png --codec jpeg --quality 10 --scale table
python - <<'PY'
import time
import numpy as np
from PIL import Image
from hybridcodec import codecs
backend = codecs.get_codec("jpeg")
for name in ("small.png", "big.png"):
    x, q = np.asarray(Image.open(name)), backend.encoder_quality(10)
    backend.encode(x, q)
    t = time.perf_counter()
    backend.encode(x, q)
    print(name, "plain mozjpeg encode s", round(time.perf_counter() - t, 3))
PY
