"""Text a file carries (model names, a model file's own words) reaches the user
escaped: one printable line, never control codes for the terminal (issue #38)."""

from dataclasses import replace

import pytest

import hybridcodec
from hybridcodec import HybridCodecError
from hybridcodec.assembly import file_bytes
from hybridcodec.cli import main
from hybridcodec.container import ModelRef, pack, printable, unpack

EVIL = "x\n\x1b[31mFAKE OK\x1b[0m\u202e\r"
UNKNOWN = "ab" * 32  # no shipped network has these weights


@pytest.fixture(scope="module")
def evil_hc(photo):
    hc = unpack(hybridcodec.compress(photo, codec="jpeg", quality=40, scale="1"))
    return replace(hc, header=replace(hc.header, models=[ModelRef("post", EVIL, UNKNOWN)]))


def assert_inert(text: str):
    assert text.isprintable(), repr(text)
    assert "\x1b" not in text and "FAKE OK" in text


def test_printable_escapes_what_is_not_printable_and_keeps_the_rest():
    assert printable(EVIL) == "x\\n\\x1b[31mFAKE OK\\x1b[0m\\u202e\\r"
    assert printable("reccnn-jpeg-s1 é 漢") == "reccnn-jpeg-s1 é 漢"
    assert printable(printable(EVIL)) == printable(EVIL)  # shown once, not escaped again


def test_every_error_message_is_one_printable_line():
    """Whatever a message quotes (a decoder's words were once six raw bytes of the file)."""
    assert str(HybridCodecError(f"png payload does not decode: {EVIL}")) == \
        "png payload does not decode: " + printable(EVIL)
    assert str(HybridCodecError("plain é")) == "plain é"


@pytest.mark.parametrize("native", [False, True], ids=["hc", "native-jpeg"])
def test_a_model_name_from_a_file_is_read_printable(evil_hc, native):
    data = file_bytes(evil_hc, native)
    name = hybridcodec.pipeline.read_file(data).header.models[0].name
    assert_inert(name)
    with pytest.raises(HybridCodecError) as error:
        hybridcodec.decompress(data)
    assert "not installed" in str(error.value)
    assert_inert(str(error.value))


def test_decompress_and_info_print_one_inert_line(evil_hc, tmp_path, capsys):
    path = tmp_path / "evil.hc"
    path.write_bytes(pack(evil_hc))
    assert main(["decompress", str(path), "-o", str(tmp_path / "out.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert_inert(err.rstrip("\n"))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    post = [line for line in out.splitlines() if line.startswith("post")]
    assert len(post) == 1 and out.count("\n") == len(out.splitlines())
    assert_inert(post[0])
    assert "\x1b" not in out and "\r" not in out


def test_a_user_model_files_own_words_are_escaped(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    import keras

    from hybridcodec import zoo

    def refuse(*args, **kwargs):  # as Keras quotes a class name from the file's config
        raise TypeError(f"Could not locate class '{EVIL.replace(chr(10), '')}'. Make sure custom classes are ...")

    monkeypatch.setattr(keras.models, "load_model", refuse)
    path = tmp_path / "m.keras"
    path.write_bytes(b"PK")
    with pytest.raises(HybridCodecError) as error:
        zoo.load_user_model(str(path), "post")
    assert_inert(str(error.value))
