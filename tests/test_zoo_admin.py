"""Choosing operating points: within the plain codec's size, never worse than it."""

from hybridcodec.cli import main
from hybridcodec.tools.zoo_admin import choose, describe_table

PLAIN = {10: [0.2, 28.0], 30: [0.5, 32.0], 50: [0.7, 34.0], 70: [1.0, 36.0], 90: [2.0, 40.0]}


def test_half_size_wins_at_low_rates_with_a_higher_codec_quality():
    results = {
        "s1-classical": PLAIN,
        # half size: a quarter of the bits at the same quality, better below ~0.5 bpp
        "s2-classical": {10: [0.06, 25.0], 30: [0.13, 28.0], 50: [0.2, 30.0], 70: [0.3, 31.0], 90: [0.5, 32.5]},
    }
    table = choose(results)
    assert len(table) == 99 and [row["quality"] for row in table] == list(range(1, 100))
    row10 = table[9]
    assert (row10["scale"], row10["post"]) == (2, None)
    assert 30 <= row10["codec_quality"] <= 50  # the half-size quality whose bpp fits 0.2
    assert (table[69]["scale"], table[69]["codec_quality"]) == (1, 70)  # plain wins at 1 bpp
    # a higher quality never means a smaller budget, so never a lower scale-2 codec quality
    scale2 = [row["codec_quality"] for row in table if row["scale"] == 2]
    assert scale2 == sorted(scale2)


def test_a_network_that_gains_everywhere_is_used_everywhere_in_range():
    results = {"s1-classical": PLAIN, "s1-net": {q: [b, p + 0.5] for q, (b, p) in PLAIN.items()}}
    table = choose(results)
    assert all(row["post"] == "net" for row in table[9:90])
    assert all(row["codec_quality"] == row["quality"] for row in table)
    assert describe_table(table)[0].startswith("q 1-")


def test_nothing_better_means_the_plain_codec():
    worse = {q: [b, p - 1] for q, (b, p) in PLAIN.items()}
    table = choose({"s1-classical": PLAIN, "s2-classical": worse, "s1-net": worse})
    assert all((r["scale"], r["post"], r["codec_quality"]) == (1, None, r["quality"]) for r in table)


def test_choose_refuses_an_unknown_network_in_one_line(tmp_path, capsys):
    status = main(["zoo", "choose", "--codec", "jpeg", "--val", str(tmp_path), "--models", "no-such-net"])
    assert status == 1
    assert "no jpeg network named no-such-net" in capsys.readouterr().err


def test_three_quarter_size_wins_between_half_and_full_size():
    """Three-quarter size at a higher codec quality: the path between the
    rates where half size wins and those where full size does."""
    results = {
        "s1-classical": PLAIN,
        "s2-classical": {10: [0.06, 25.0], 30: [0.13, 28.0], 50: [0.2, 29.0], 70: [0.3, 30.0], 90: [0.5, 31.0]},
        "s4/3-net": {10: [0.11, 27.0], 30: [0.25, 30.5], 50: [0.35, 32.5], 70: [0.5, 33.5], 90: [1.1, 36.0]},
    }
    table = choose(results)
    row = table[29]  # budget 0.5 bpp: 4/3 at codec q70 gives 33.5 dB against the plain 32.0
    assert (row["scale"], row["post"], row["codec_quality"]) == ("4/3", "net", 70)
    assert table[89]["scale"] == 1  # 2 bpp: full size
    assert any("scale 4/3, net" in line for line in describe_table(table))


def test_zoo_commands_at_once_keep_each_others_manifest_updates(tmp_path, monkeypatch):
    """Each update reads the manifest on disk under a lock: a ``zoo quantize``
    that started before a table was set no longer writes the old table back."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from hybridcodec.tools import zoo_admin

    monkeypatch.setattr(zoo_admin, "models_dir", lambda: tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [], "operating_points": {}}))

    def add_table(k):
        zoo_admin._update_manifest(lambda m: {**m, "operating_points": {**m["operating_points"], f"c{k}": []}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_table, range(40)))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest["operating_points"]) == sorted(f"c{k}" for k in range(40))
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_new_int8_twin_serves_and_the_old_one_stays_for_old_files():
    from hybridcodec.tools.zoo_admin import with_statuses

    models = [{"name": n, "variant_of": base, "precision": p} for n, base, p in (
        ("net", "", "float32"), ("net-int8", "net", "int8"), ("net-int8-v2", "net", "int8"), ("old", "", "float32"))]
    manifest = {"models": models, "operating_points": {"jpeg": [{"post": "net"}]}}
    status = {m["name"]: m["status"] for m in with_statuses(manifest)["models"]}
    assert status == {"net": "current", "net-int8": "superseded", "net-int8-v2": "current", "old": "superseded"}


def test_adding_an_unfinished_run_fails_in_one_line(tmp_path, capsys):
    status = main(["zoo", "add", str(tmp_path), "--name", "x", "--codec", "jpeg"])
    assert status == 1
    assert "has no card.json" in capsys.readouterr().err


def test_light_of_names_a_shipped_restoration_network_of_the_codec(tmp_path, capsys):
    from hybridcodec import zoo

    (tmp_path / "card.json").write_text("{}")
    webp = next(e for e in zoo.entries() if e.codec == "webp" and e.role == "post" and not e.variant_of)
    for other in (webp.name, "no-such-net"):
        assert main(["zoo", "add", str(tmp_path), "--name", "x", "--codec", "jpeg", "--light-of", other]) == 1
        assert "--light-of names a shipped jpeg restoration network" in capsys.readouterr().err


def test_replace_refuses_a_network_of_another_codec_in_one_line(capsys):
    from hybridcodec import zoo

    jpeg = next(e for e in zoo.entries() if e.codec == "jpeg" and e.role == "post" and not e.variant_of)
    webp = next(e for e in zoo.entries() if e.codec == "webp" and e.role == "post" and not e.variant_of)
    assert main(["zoo", "replace", jpeg.name, webp.name]) == 1
    assert "does not serve" in capsys.readouterr().err
    assert main(["zoo", "replace", jpeg.name, "no-such-net"]) == 1
    assert "no shipped restoration network called 'no-such-net'" in capsys.readouterr().err
    twin = next(e for e in zoo.entries() if e.variant_of)
    assert main(["zoo", "replace", twin.name, jpeg.name]) == 1
    assert f"no shipped restoration network called {twin.name!r}" in capsys.readouterr().err


def test_replace_moves_every_row_to_the_new_network(tmp_path, monkeypatch):
    import json
    import shutil

    from hybridcodec import zoo
    from hybridcodec.tools import zoo_admin

    manifest_path = zoo.weights_dir() / "manifest.json"
    rows = [r for t in zoo.manifest()["operating_points"].values() for r in t]
    old = next(r["post"] for r in rows if r.get("post"))
    new = next(e.name for e in zoo.entries() if e.codec == zoo.find(old).codec and e.scale == zoo.find(old).scale
               and e.role == "post" and not e.variant_of and e.name != old)
    shutil.copyfile(manifest_path, tmp_path / "manifest.json")
    monkeypatch.setattr(zoo_admin, "models_dir", lambda: tmp_path)
    line = zoo_admin.replace_network(old, new)
    after = json.loads((tmp_path / "manifest.json").read_text())
    moved = sum(r.get("post") == old for r in rows)
    assert line.startswith(f"{moved} table rows")
    assert not any(r.get("post") == old for t in after["operating_points"].values() for r in t)
    assert sum(r.get("post") == new for t in after["operating_points"].values() for r in t) >= moved
    zoo.clear_caches()


def test_replace_hands_the_light_tier_to_the_new_network(tmp_path, monkeypatch):
    import json
    import shutil

    from hybridcodec import zoo
    from hybridcodec.tools import zoo_admin

    light = next(e for e in zoo.entries() if e.light_of and e.status == "current" and not e.variant_of)
    old = zoo.find(light.light_of)
    new = next(e for e in zoo.entries() if e.codec == old.codec and e.scale == old.scale and e.role == "post"
               and not e.variant_of and not e.light_of and e.name != old.name)
    shutil.copyfile(zoo.weights_dir() / "manifest.json", tmp_path / "manifest.json")
    monkeypatch.setattr(zoo_admin, "models_dir", lambda: tmp_path)
    monkeypatch.setattr(zoo, "weights_dir", lambda: tmp_path)
    try:
        line = zoo_admin.replace_network(old.name, new.name)
        assert light.name in line.partition("; light tier: ")[2].split(", ")
        after = {m["name"]: m for m in json.loads((tmp_path / "manifest.json").read_text())["models"]}
        assert after[light.name]["light_of"] == new.name and after[light.name]["status"] == "current"
        assert zoo.with_decoder(zoo.find(new.name), "light").name == light.name
    finally:
        zoo.clear_caches()


def test_zoo_add_light_of_writes_the_entry_the_light_tier_finds(tmp_path, monkeypatch):
    import json

    import pytest

    keras = pytest.importorskip("keras")
    pytest.importorskip("onnx")
    from hybridcodec import runtime, zoo
    from hybridcodec.models import RecCNN
    from hybridcodec.tools import zoo_admin

    full = next(e for e in zoo.entries() if e.codec == "webp" and e.role == "post" and not e.variant_of
                and e.status == "current" and e.scale == 1)
    run, models = tmp_path / "run", tmp_path / "models"
    run.mkdir()
    models.mkdir()
    RecCNN(depth=3, width=8).save(run / "post.keras")
    card = {"models": {"post": {"file": "post.keras", "sha256": runtime.file_sha256(run / "post.keras"),
                                "class": "RecCNN"}}, "config": {"scale": 1}}
    (run / "card.json").write_text(json.dumps(card))
    (models / "manifest.json").write_text(json.dumps({"models": [], "operating_points": {}}))
    monkeypatch.setattr(zoo_admin, "models_dir", lambda: models)
    assert main(["zoo", "add", str(run), "--name", "light-x", "--codec", "webp", "--light-of", full.name]) == 0
    (entry,) = json.loads((models / "manifest.json").read_text())["models"]
    assert entry["light_of"] == full.name and (models / entry["onnx"]).is_file()
    assert zoo.read_models([entry])[0].light_of == full.name  # the schema takes it
    keras.backend.clear_session()


def test_the_newest_light_network_of_a_network_serves_and_older_ones_only_decode():
    from hybridcodec.tools.zoo_admin import with_statuses

    manifest = {"models": [{"name": "full"}, {"name": "light-a", "light_of": "full"},
                           {"name": "light-b", "light_of": "full"}, {"name": "light-c", "light_of": "old"}],
                "operating_points": {"jpeg": [{"quality": 40, "post": "full"}]}}
    status = {m["name"]: m["status"] for m in with_statuses(manifest)["models"]}
    assert status == {"full": "current", "light-a": "superseded", "light-b": "current", "light-c": "superseded"}
