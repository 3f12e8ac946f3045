"""The one candidate scorer of the encoder's decisions, by tune.

Every choice the encoder makes on the image it holds compares candidates
by ``score``: ``--scale auto``'s check (pipeline._checked: the table's
path, the full-size file, the plain picture, the pre-edited file), its
large-image form on sampled tiles, ``--target-size`` and ``--search``
(ratecontrol). ``--target-psnr`` is a PSNR target and is measured in PSNR
under either tune. The restoration's strength per tile is chosen by the
tune's per-tile measure (strength.choose: squared error; choose_by_ssim:
SSIM, the perceptual tune's fast proxy), then the whole image is scored
here.

* ``psnr``: PSNR-RGB (0.8's decisions, unchanged).
* ``perceptual``: SSIMULACRA 2.1 (metrics.ssimulacra2), the metric fitted
  to the eye that the encoder engineers tune for (issue #40): about 0.4 s
  of CPU for 768x512 a candidate, on top of the decoding; the check weighs
  2 to 5 candidates. Butteraugli, the other eye metric bench reports, is a
  Debian tool (libjxl-devtools), not something an encoder can rely on.
"""

from __future__ import annotations

import numpy as np

from .metrics import psnr, ssimulacra2


def score(tune: str, reference: np.ndarray, image: np.ndarray) -> float:
    """How close ``image`` is to ``reference`` under ``tune`` (codecs.TUNES):
    higher is closer; comparable within a tune only."""
    if tune == "perceptual":
        return ssimulacra2(reference, image)
    return psnr(reference, image)
