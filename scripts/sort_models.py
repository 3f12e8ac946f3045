"""Put each shipped network's files where its status in models/manifest.json
says: a current network's ``.keras``, ``.onnx`` and card in ``models/``, a
superseded one's in ``models/superseded/`` (the wheel ships the ``.onnx`` and
cards of both, the ``.keras`` of the current ones only: setup.cfg). The zoo
finds a file in either folder (``zoo.weights_file``); run this after
``hybridcodec zoo choose`` or ``replace`` changes a status:

    python scripts/sort_models.py           # moves the files, prints each move
    python scripts/sort_models.py --check   # prints what is misplaced, exits 1 if anything is
"""

import argparse
import json
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"


def misplaced(models: Path = MODELS) -> list[tuple[Path, Path]]:
    """(where a file is, where its network's status puts it), for each file not there."""
    moves = []
    for entry in json.loads((models / "manifest.json").read_text())["models"]:
        folder = models / "superseded" if entry["status"] == "superseded" else models
        for name in filter(None, (entry.get("file"), entry.get("onnx"), entry.get("card"))):
            for found in (models / name, models / "superseded" / name):
                if found.exists() and found.parent != folder:
                    moves.append((found, folder / name))
    return moves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list misplaced files; exit 1 if there are any")
    args = parser.parse_args()
    moves = misplaced()
    for source, target in moves:
        print(f"{source.relative_to(MODELS.parent)} -> {target.relative_to(MODELS.parent)}")
        if not args.check:
            if target.exists():  # never overwrite: a file in both folders needs a person's look
                sys.exit(f"sort_models.py: {target} exists already; left {source} where it is")
            target.parent.mkdir(exist_ok=True)
            source.rename(target)
    return 1 if args.check and moves else 0


if __name__ == "__main__":
    sys.exit(main())
