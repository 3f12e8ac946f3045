"""SHA-256 of every .hc file hybridcodec writes for a folder of photos, at every
codec's grid quality and at scales auto, 1 and 2: two commits that write the
same files print the same JSON.

    python scripts/file_hashes.py ../shared/data/val before.json
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import hybridcodec

# the grids of 0.1.0, written out so that the script runs on commits before codecs.py had them
grid = {"jpeg": [5, 10, 20, 30, 40, 50, 60, 70, 80, 90], "webp": [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90],
        "avif": [15, 20, 30, 40, 50, 60, 70, 80, 90], "jpegxl": [5, 10, 20, 30, 40, 50, 60, 70, 80, 90]}
out = {}
for path in sorted(Path(sys.argv[1]).glob("*.png")):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    for codec, qs in grid.items():
        for q in qs:
            for scale in ("auto", 1, 2):
                data = hybridcodec.compress(rgb, codec, q, scale)
                out[f"{path.name} {codec} q{q} s{scale}"] = hashlib.sha256(data).hexdigest()
Path(sys.argv[2]).write_text(json.dumps(out, indent=0))
print(len(out))
