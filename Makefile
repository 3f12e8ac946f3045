# Two commands on a fresh machine:  make demo   and   make test
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test clean

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=68" wheel
	$(PY) -m pip install --quiet -e ".[test,train]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hybridcodec demo

# The linter first (rules in pyproject.toml); the notebooks run too, with small
# settings and scikit-image's images. Python packages only: the tests that run
# real clients (djpeg, dwebp, avifdec, djxl, chromium, qemu-x86_64,
# butteraugli_main) skip without them, saying why; .ci/run apt-installs them.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	HYBRIDCODEC_NOTEBOOK_SMALL=1 $(PY) -m pytest -q --durations=15 tests --nbmake notebooks

clean:
	rm -rf $(VENV) build dist *.egg-info
