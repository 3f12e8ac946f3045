"""hybridcodec: standard image codecs made better with learned pre- and post-processing.

    >>> import hybridcodec
    >>> data = hybridcodec.compress(image, codec="webp", quality=50)   # bytes of a .hc file
    >>> restored = hybridcodec.decompress(data)                         # uint8 array

Importing hybridcodec registers the ``.hc`` format with Pillow
(``Image.open("x.hc")``, ``im.save("x.hc", codec="webp", quality=50)``).
Shipped networks run in ONNX Runtime: coding never imports TensorFlow,
which only a user's own ``.keras`` network needs (the train extra). Every
refusal of bad input raises HybridCodecError.
"""

from . import pillow_plugin  # noqa: F401  (registers .hc with Pillow)
from .errors import HybridCodecError
from .pipeline import compress, decompress

__version__ = "0.9.3"
__all__ = ["HybridCodecError", "compress", "decompress", "__version__"]
