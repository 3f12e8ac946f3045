"""The names of the heavy registries, in a module that imports nothing.

The restoration networks and pre-processors (models.py) and the training
losses (tools/losses.py) import Keras or TensorFlow at load, 2-3 s and
hundreds of MB, which ``hybridcodec --help`` and ``train --help`` must not
pay to list their names. So the names live here, each with the attribute
that implements it (imagecodecs' lazy table, in miniature): the registries
build their dicts from these tables, and the command line offers them as
``choices=``; a name is written once. tests/test_names.py checks both sides.

Light registries keep their own names: codecs (codecs.names()), scales
(scale.CHOICES), contracts (coding.CONDITIONS), roles (container.ROLES).
"""

from __future__ import annotations

# name -> class in models.py
RESTORATION_MODELS = {"reccnn": "RecCNN", "recunet": "RecUNet", "arcnn": "ARCNN", "arcnn-aspp": "ARCNNASPP"}
PRE_MODELS = {"comcnn": "ComCNN", "pre-editor": "PreEditor"}

# name -> function in tools/losses.py
LOSSES = {"mse": "mse_loss", "l1": "l1_loss", "ssim": "ssim_loss", "ms-ssim": "ms_ssim_loss",
          "ms-ssim+l1": "ms_ssim_l1_loss", "mse+texture": "mse_texture_loss",
          "ssimulacra2": "ssimulacra2_loss", "mse+ssimulacra2": "mse_ssimulacra2_loss"}

# tools/training.TrainConfig.mode: the restoration network alone, or
# alternating with the pre-processor
TRAIN_MODES = ("post", "joint")


def resolve(table: dict[str, str], namespace: dict) -> dict:
    """``table`` (name -> attribute name) with each attribute taken from
    ``namespace`` (a module's ``globals()``): a registry built from its names."""
    return {name: namespace[attribute] for name, attribute in table.items()}


def spoken(names) -> str:
    """``a, b or c``: a list of names as a help text says it."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
