"""Choosing operating points: never worse than the plain codec at the same bpp."""

from hybridcodec.release import choose


def test_choose_keeps_the_plain_path_where_nothing_gains_and_merges_rows():
    qualities = [10, 30, 50, 70]
    results = {
        "s1-classical": {10: [0.2, 28.0], 30: [0.5, 32.0], 50: [0.7, 34.0], 70: [1.0, 36.0]},
        # half size: better than plain at its bpp for q10 and q30 only
        "s2-classical": {10: [0.25, 29.5], 30: [0.55, 33.0], 50: [0.75, 33.0], 70: [1.1, 34.0]},
        # a network at full size: a small gain everywhere
        "s1-net": {10: [0.2, 28.1], 30: [0.5, 32.1], 50: [0.7, 34.2], 70: [1.0, 36.0]},
    }
    rows = choose(results, qualities)
    assert [(r["qualities"], r["path"]) for r in rows] == [
        ([1, 49], "s2-classical"), ([50, 69], "s1-net"), ([70, 99], "s1-classical")]
    assert rows[1]["post"] == "net" and rows[0]["post"] is None and rows[0]["scale"] == 2


def test_points_outside_the_plain_curve_are_not_chosen():
    qualities = [10, 30, 50, 70]
    plain = {10: [0.2, 28.0], 30: [0.5, 32.0], 50: [0.7, 34.0], 70: [1.0, 36.0]}
    low = {q: [0.05, 40.0] for q in qualities}  # "better", but below the plain range
    rows = choose({"s1-classical": plain, "s2-classical": low}, qualities)
    assert rows == [{"qualities": [1, 99], "scale": 1, "post": None, "path": "s1-classical",
                     "gain_db": [0.0, 0.0, 0.0, 0.0]}]
