"""The one exception class hybridcodec raises for bad or refused input."""


class HybridCodecError(ValueError):
    """Bad or refused input: a corrupt file, an unsupported image, a missing model.

    The message is one line meant for the user. The CLI prints it and exits
    with status 1.
    """
