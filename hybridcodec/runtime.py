"""The light runtime: shipped networks run in ONNX Runtime, not TensorFlow.

Why ONNX Runtime (docs/ROBUSTNESS.md has the figures and the command): on a
2-core CPU, importing it and opening a session takes about 0.1 s and 70 MB,
where ``import tensorflow`` takes 4-7 s and 670 MB, and it restores 768x512
faster than Keras in float32. OpenVINO reads the same files and was measured
beside it; LiteRT would need a TensorFlow-made second file per network.

Same pixels on every CPU: a float32 network's exported file matches the
float32 Keras model within 0.001 of a grey level (tests/test_runtime.py).
(Keras runs the bfloat16 networks in bfloat16 where the CPU has it, a grey
level or so away.) An int8 twin's integer arithmetic is exact wherever ONNX
Runtime multiplies with VNNI, AMX or Arm's widening instructions; on an x86
CPU without them its fast u8s8 kernel adds pairs of products in 16 bits and
saturates (up to 30 grey levels off, measured under QEMU as a Haswell), so
there the runtime asks for ONNX Runtime's exact kernel instead
(``int8_precision_mode``).

A ``Network`` is called like the Keras model it came from (``[decoded,
quality]`` for a restoration network, the image for a pre-processor, float32
in [0, 1], channels last), so coding.py runs either.

Long loops (the tiles of a network, rate control's encodes) report their
progress here (``progress``); nothing is shown unless a caller listens.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from .errors import HybridCodecError

# A network's arithmetic in the runtime, the default first: an int8 twin
# (zoo.with_precision, export.quantize_int8) or the float32 network itself.
PRECISIONS = ("int8", "float32")
# The restoration network's tier a file names (``--decoder``, zoo.with_decoder):
# the full network, or a light one where it ships (docs/DECISIONS.md: the default).
DECODERS = ("full", "light")

# Worker processes of a batch run set this to share the cores (batch.py).
THREADS_VARIABLE = "HYBRIDCODEC_THREADS"

# The SIGINT or SIGTERM that is stopping this run (cli.py's handler sets it), 0
# until one comes: one that landed inside ``import onnxruntime`` became an
# ImportError there, a failed file, and the run went on (batch.py checks it).
stop_signal = 0


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Network:
    """An exported network in an ONNX Runtime session."""

    def __init__(self, path, sha256: str | None = None):
        data = Path(path).read_bytes()
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise HybridCodecError(f"network file {path} does not match its SHA-256 in the manifest: reinstall")
        self._open(data)
        self.path = Path(path)

    @classmethod
    def from_bytes(cls, data: bytes) -> Network:
        """A network from an ONNX file's bytes (an export not yet written)."""
        network = cls.__new__(cls)
        network._open(data)
        network.path = None
        return network

    def _open(self, data: bytes) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise HybridCodecError("onnxruntime is not installed: pip install onnxruntime") from None
        options = ort.SessionOptions()
        threads = int(os.environ.get(THREADS_VARIABLE, "0") or 0)
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if int8_precision_mode():  # only int8 twins read it
            options.add_session_config_entry("session.x64quantprecision", "1")
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.scale = int(meta.get("scale", 1))
        self.role = meta.get("role", "post")
        self.condition = meta.get("condition", "quality")  # coding.CONDITIONS
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs, training: bool = False) -> np.ndarray:
        arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        feed = {name: np.ascontiguousarray(a, np.float32) for name, a in zip(self.inputs, arrays, strict=True)}
        return self.session.run(None, feed)[0]

    def release(self) -> None:
        """Give the working memory of the last picture back. The encoder's
        decision calls it after each candidate: it runs three to five
        networks, whose arenas otherwise each keep their peak (768x512 JPEG
        q10 compress: 1.03 GB -> 383 MB). Not after every run: the next
        picture would allocate it again (0.1 s for 768x512). ONNX Runtime
        shrinks an arena only at the end of a run, so this is a 16x16 one."""
        import onnxruntime as ort

        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        feed = {i.name: np.zeros([1] + [16 if isinstance(d, str) or d is None else d for d in i.shape[1:]],
                                 np.float32) for i in self.session.get_inputs()}
        self.session.run(None, feed, options)


@functools.lru_cache(maxsize=8)
def load(path: str, sha256: str | None = None) -> Network:
    """The network in ``path`` (cached: a session opens once a process)."""
    return Network(path, sha256)


TRAIN_EXTRA = "pip install 'hybridcodec[train]'"


def require_keras():
    """The keras module, or a one-line error naming the extra that brings it:
    training, Keras models and a user's ``.keras`` networks need it, coding does not."""
    try:
        import keras
    except ImportError:
        raise HybridCodecError(f"this needs TensorFlow and Keras, which are not installed: {TRAIN_EXTRA}") from None
    return keras


@functools.cache  # a property of the machine: read /proc/cpuinfo once
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is missing."""
    try:
        with open("/proc/cpuinfo") as info:
            return frozenset(next((line for line in info if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


# x86 flags whose int8 multiply-add cannot saturate: AVX-VNNI and AMX, which
# numpy's CPUID table (below) does not name.
EXACT_INT8_FLAGS = ("avx_vnni", "amx_int8")
# Flags both name (numpy's name, /proc/cpuinfo's): where they disagree,
# /proc/cpuinfo describes another CPU than the one this process runs on.
CPUID_NAMES = {"AVX2": "avx2", "FMA3": "fma", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni",
               "AVX512BF16": "avx512_bf16"}


@functools.cache  # a property of the machine
def int8_precision_mode() -> bool:
    """Whether int8 twins need ONNX Runtime's exact (slower) u8s8 kernel here:
    on an x86 CPU without VNNI or AMX. Measured on the 16x32 JPEG twin (a
    256x320 crop under QEMU as a Haswell for the pixels): the saturating
    kernel 30 grey levels from a VNNI machine, the exact one 1 level at 1
    pixel; on a VNNI machine the exact kernel is 3.4 times slower (0.65
    against 0.19 s for 768x512), so only where needed. numpy's CPUID table
    says what this process can run; /proc/cpuinfo, read for AVX-VNNI and AMX,
    counts only where it agrees with that table (an emulator's is the host's:
    under QEMU as a Haswell on a host with AVX-VNNI it named a VNNI the
    emulated CPU lacks)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1
        from numpy.core._multiarray_umath import __cpu_features__
    if not __cpu_features__.get("SSE2"):
        return False  # not x86: Arm's int8 kernels widen before adding
    if __cpu_features__.get("AVX512VNNI"):
        return False
    flags = cpu_flags()
    same_cpu = all(bool(__cpu_features__.get(ours)) == (theirs in flags) for ours, theirs in CPUID_NAMES.items())
    return not (same_cpu and flags & set(EXACT_INT8_FLAGS))


# The flags that change a network's speed (or, in Keras, its pixels), for benchmark records.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")


# --------------------------------------------------------------------------
# Progress of long work (issue #37: a 63-megapixel decompress ran 12 minutes
# without a word). Silent unless a caller listens: the Python API never
# prints; the command line listens with a tqdm bar on a terminal (cli.py).
# --------------------------------------------------------------------------

_LISTENER = contextvars.ContextVar("hybridcodec_progress", default=None)


@contextlib.contextmanager
def progress_to(factory):
    """Within the block, long loops report to ``factory(desc=, total=, unit=)``,
    which returns a bar with ``update(n)`` and ``close()`` (tqdm's signature)."""
    token = _LISTENER.set(factory)
    try:
        yield
    finally:
        _LISTENER.reset(token)


class Progress:
    """One long loop's progress: call it after each step. It closes itself
    after its last step of a known ``total``, or at the end of a ``with``."""

    def __init__(self, bar, total: int | None):
        self.bar, self.total, self.done = bar, total, 0

    def __call__(self, steps: int = 1) -> None:
        if self.bar is None:
            return
        self.bar.update(steps)
        self.done += steps
        if self.total is not None and self.done >= self.total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(what: str, total: int | None = None, unit: str = "it") -> Progress:
    """A ``Progress`` for a loop of ``total`` steps (None: unknown), shown
    only where someone listens (``progress_to``)."""
    factory = _LISTENER.get()
    return Progress(factory(desc=what, total=total, unit=unit) if factory is not None else None, total)
