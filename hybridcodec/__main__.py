"""``python -m hybridcodec``: the ``hybridcodec`` command."""

from .cli import run

if __name__ == "__main__":
    run()
