"""The scripts in scripts/ run against today's package (issue #39, item 7):
every name a script takes from hybridcodec exists, every script with options
answers ``--help``, and release.sh chooses on choose/ and names a 4/3
network as the zoo does."""

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
VERSION = importlib.import_module("hybridcodec").__version__.replace(".", "")


def missing_names(path: Path) -> list[str]:
    """``module.name`` for each name ``path`` imports from hybridcodec, or
    reads as an attribute of a hybridcodec module, that does not exist."""
    tree = ast.parse(path.read_text())
    modules, missing = {}, []  # local name -> hybridcodec module name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name: a.name for a in node.names if a.name.split(".")[0] == "hybridcodec"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "hybridcodec":
            module = importlib.import_module(node.module)
            for alias in node.names:
                try:  # a submodule (from hybridcodec import zoo) or a name in the module
                    submodule = importlib.import_module(f"{node.module}.{alias.name}")
                    modules[alias.asname or alias.name] = submodule.__name__
                except ImportError:
                    if not hasattr(module, alias.name):
                        missing.append(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and not hasattr(importlib.import_module(modules[node.value.id]), node.attr)):
            missing.append(f"{modules[node.value.id]}.{node.attr}")
    return missing


def test_missing_names_finds_a_name_that_is_gone(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("from hybridcodec import pipeline\nfrom hybridcodec.tools.training import _apply\n"
                      "pipeline.run_post\npipeline.decode\n")
    assert missing_names(script) == ["hybridcodec.tools.training._apply", "hybridcodec.pipeline.run_post"]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_names_only_what_exists(path):
    assert missing_names(path) == []


def test_scripts_with_options_answer_help():
    """One interpreter runs every script's ``--help`` (argparse exits 0 after
    printing usage), so hybridcodec is imported once."""
    with_options = [p for p in SCRIPTS if "argparse" in p.read_text()]
    assert len(with_options) >= 10
    probe = ("import json, runpy, sys, io, contextlib\nout = {}\n"
             "for path in sys.argv[1:]:\n"
             "    sys.argv = [path, '--help']\n    text = io.StringIO()\n"
             "    try:\n"
             "        with contextlib.redirect_stdout(text):\n"
             "            runpy.run_path(path, run_name='__main__')\n"
             "        out[path] = 'no exit'\n"
             "    except SystemExit as e:\n"
             "        helped = e.code in (0, None) and text.getvalue().startswith('usage:')\n"
             "        out[path] = 'ok' if helped else repr(e.code)\n"
             "    except Exception as e:\n"
             "        out[path] = f'{type(e).__name__}: {e}'\n"
             "print(json.dumps(out))\n")
    result = subprocess.run([sys.executable, "-c", probe, *map(str, with_options)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    answers = json.loads(result.stdout.splitlines()[-1])
    assert {Path(p).name: a for p, a in answers.items() if a != "ok"} == {}


@pytest.mark.parametrize("path", sorted((ROOT / "scripts").glob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse(path):
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


def _release(tmp_path, scale, env=None):
    """release.sh's commands for one run of ``scale``: hybridcodec and
    sort_models.py stubbed (they log their arguments), the real release.sh."""
    run = tmp_path / "runs" / "jpeg-s"
    run.mkdir(parents=True)
    (run / "card.json").write_text(json.dumps({"models": {"post": {"class": "RecCNN"}}, "config": {"scale": scale}}))
    log = tmp_path / "commands.txt"
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "hybridcodec").write_text(f'#!/bin/sh\necho "hybridcodec $*" >> {log}\n')
    (stubs / "hybridcodec").chmod(0o755)
    (stubs / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')  # this venv's, found as python
    (stubs / "python").chmod(0o755)
    scripts = tmp_path / "work" / "scripts"  # release.sh runs from the repository root
    scripts.mkdir(parents=True)
    (scripts / "release.sh").write_bytes((ROOT / "scripts" / "release.sh").read_bytes())
    (scripts / "sort_models.py").write_text(f"open({str(log)!r}, 'a').write('sort_models\\n')\n")
    result = subprocess.run(["bash", "scripts/release.sh", "jpeg", str(run)], cwd=scripts.parent, capture_output=True,
                            text=True, env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", **(env or {})})
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_release_chooses_on_choose_and_names_a_three_quarter_network(tmp_path):
    result, commands = _release(tmp_path, "4/3")
    assert result.returncode == 0, result.stderr
    assert commands == [f"hybridcodec zoo add {tmp_path}/runs/jpeg-s --name reccnn-jpeg-s43 --codec jpeg",
                        "hybridcodec zoo choose --codec jpeg --val ../shared/data/choose",
                        "sort_models",
                        f"hybridcodec bench ../shared/data/val --codec jpeg --out results/val-v{VERSION}"]


def test_release_refuses_to_choose_on_val(tmp_path):
    result, commands = _release(tmp_path, 1, {"CHOOSE": "../shared/data/val"})
    assert result.returncode == 2 and "choose" in result.stderr and commands == []
