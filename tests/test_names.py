"""One home for each list of names (issue #39, item 4): the command line
offers what the registries hold, without importing Keras to list them; and
the container's format facts that other modules use come from container.py."""

import argparse
import subprocess
import sys

import pytest

from hybridcodec import cli, codecs, coding, container, names, strength
from hybridcodec.container import HCFile, Header, ModelRef, pack


def _option(*path: str, dest: str) -> argparse.Action:
    """The action of option ``dest`` of the (sub)command ``path``."""
    parser = cli.build_parser()
    for command in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[command]
    return next(a for a in parser._actions if a.dest == dest)


def test_the_train_command_offers_exactly_the_registries_names():
    pytest.importorskip("tensorflow")
    from hybridcodec import models
    from hybridcodec.tools import losses, training

    assert _option("train", dest="model").choices == list(models.RESTORATION_MODELS)
    assert _option("train", dest="pre_model").choices == list(models.PRE_MODELS)
    assert _option("train", dest="loss").choices == list(losses.LOSSES)
    assert _option("train", dest="condition").choices == list(coding.CONDITIONS)
    assert set(_option("train", dest="mode").choices) == set(names.TRAIN_MODES)
    assert set(training.PRE_MODEL_SCALES) == set(models.PRE_MODELS)
    # the registries hold what the table names them by
    assert all(models.RESTORATION_MODELS[n].__name__ == c for n, c in names.RESTORATION_MODELS.items())
    assert all(losses.LOSSES[n].__name__ == f for n, f in names.LOSSES.items())


def test_every_encoder_training_takes_is_in_its_help():
    pytest.importorskip("tensorflow")
    from hybridcodec.tools import training

    listed = _option("train", dest="encoders").help.split("(JPEG: ")[1].split(";")[0].split(", ")
    assert listed == list(codecs.by_name("jpeg").encoders)
    assert {"turbo-444", "camera"} <= set(listed) - set(codecs.by_name("jpeg").file_encoders())
    for encoder in listed:  # each one TrainConfig accepts
        training.TrainConfig(codec="jpeg", encoders=[encoder])
    with pytest.raises(ValueError, match="unknown loss 'l3'"):
        training.TrainConfig(codec="jpeg", loss="l3")


def test_compress_lists_each_codecs_encoders_and_zoo_add_its_roles():
    text = _option("compress", dest="encoder").help
    for name in codecs.names():
        if len(codecs.by_name(name).file_encoders()) > 1:
            assert f"{name}: {', '.join(codecs.by_name(name).file_encoders())}" in text
    assert "camera" not in text  # training's alone
    assert set(_option("zoo", "add", dest="role").choices) == set(container.ROLES.values())
    assert _option("compress", dest="scale").choices == _option("bench", dest="scale").choices


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["zoo", "add", "--help"], ["compress", "--help"]])
def test_help_imports_neither_keras_nor_tensorflow(args):
    code = (f"import sys\nfrom hybridcodec.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: hybridcodec" in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"


def test_a_file_says_the_version_and_lengths_that_container_states():
    header = Header("webp", 50, 16, 16, 3, models=[ModelRef("post", "", "ab" * 32)])
    plain = pack(HCFile(header, b"payload"))
    part = b"\x10\x02"
    with_strengths = pack(HCFile(header, b"payload", strengths=part))
    assert plain[8] == container.VERSION and with_strengths[8] == container.STRENGTHS_VERSION
    assert len(with_strengths) - len(plain) == strength.overhead(part) == len(part) + container.PART_LENGTH_BYTES
    assert container.unpack(with_strengths).strengths == part
