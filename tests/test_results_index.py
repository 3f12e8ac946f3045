"""results/README.md indexes every folder and file of results/ (issue #39, item 7)."""

import re
from fnmatch import fnmatch
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"


def unindexed(names, index: str) -> list[str]:
    """The names no backticked name or glob of ``index`` covers."""
    patterns = [p.rstrip("/") for p in re.findall(r"`([^`\n]+)`", index)]
    return [n for n in names if not any(fnmatch(n, p) for p in patterns)]


def test_unindexed_names_a_new_entry():
    index = "| `val-v072` | `bench-decode*.json` |"
    assert unindexed(["val-v072", "bench-decode-v080.json", "val-v080"], index) == ["val-v080"]


def test_results_readme_names_every_entry():
    names = sorted(p.name for p in RESULTS.iterdir() if p.name != "README.md")
    assert len(names) > 20 and unindexed(names, (RESULTS / "README.md").read_text()) == []


def test_no_bench_output_at_the_top():
    """A bench writes into a folder named for its release and photos, never results/ itself (0.1's did)."""
    assert not [p.name for p in RESULTS.glob("*-summary.json")]
