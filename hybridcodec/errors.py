"""The one exception class hybridcodec raises for bad or refused input."""


def printable(text: str) -> str:
    """``text`` with each character that is not printable (control codes such
    as newline and ESC, bidirectional overrides, unassigned code points)
    written as its Python escape, ``\\x1b``: text a file carries reaches
    messages and ``info`` as one inert line, never as terminal commands."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class HybridCodecError(ValueError):
    """Bad or refused input: a corrupt file, an unsupported image, a missing model.

    The message is one line meant for the user. The CLI prints it and exits
    with status 1. It is kept printable (``printable``) whatever it quotes:
    a decoder's own words may be the file's bytes (a PNG decoder's message
    was six raw bytes, found by fuzz/fuzz_reader.py).
    """

    def __init__(self, message: object = "", *args):
        super().__init__(printable(str(message)), *args)
