"""Batch work: one pure function per file (files.py), mapped in this
process, over worker processes, or over a Dask cluster; ``run`` is what the
command line's compress and decompress do with their inputs.

Each task writes its output through a temporary file and a rename, so an
interrupted run leaves no partial files, and running it again finishes the
rest: existing outputs are skipped unless ``force``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import codecs, runtime
from .errors import HybridCodecError
from .files import compress_file, decompress_file, default_output, is_our_output, output_suffix
from .images import IMAGE_SUFFIXES
from .pipeline import DEFAULT_CODEC


@dataclass(frozen=True)
class Task:
    command: str  # "compress" or "decompress"
    source: str
    target: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    task: Task
    status: str  # "done", "skipped" or "failed"
    message: str = ""


def expand_inputs(inputs, command: str) -> list[Path]:
    """Files as given, folders as the files in them that the command takes."""
    if command == "decompress":
        suffixes = {".hc"}.union(*(c.extensions for c in codecs.native_codecs()))
    else:
        suffixes = IMAGE_SUFFIXES
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        else:
            paths.append(item)
    return paths


def plan(inputs, command: str, outdir, options: dict) -> list[Task]:
    """One task per input; refuses, before any work and listing every clash,
    a run where two inputs would write one output, an output is one of the
    inputs, or an output exists and hybridcodec did not write it."""
    suffix = output_suffix(command, options.get("codec") or DEFAULT_CODEC, options.get("native", False))
    options = {**options, "named": False}  # outputs named by the run: sources are never replaced
    tasks = []
    for source in expand_inputs(inputs, command):
        folder = Path(outdir) if outdir else source.parent
        tasks.append(Task(command, str(source), str(folder / (source.stem + suffix)), options))
    sources = {Path(t.source).resolve(): t.source for t in tasks}
    clashes, targets = [], {}
    for task in tasks:
        target = Path(task.target).resolve()
        if target in targets:
            clashes.append(f"{targets[target]} and {task.source} would both write {task.target}")
        elif target in sources:
            clashes.append(f"{task.target} is an input of this run")
        elif target.exists() and not is_our_output(target):
            clashes.append(f"{task.target} exists and was not written by hybridcodec")
        targets.setdefault(target, task.source)
    if clashes:
        raise HybridCodecError(f"refusing to start, {len(clashes)} clash(es): {'; '.join(clashes)}")
    return tasks


def run_task(task: Task) -> Outcome:
    """Do one task; never raises for bad input (that is an outcome)."""
    target = Path(task.target)
    if target.exists() and not task.options.get("force"):
        return Outcome(task, "skipped", "output exists")
    try:
        work = compress_file if task.command == "compress" else decompress_file
        message = work(Path(task.source), target, **task.options)
    except HybridCodecError as error:
        return Outcome(task, "failed", str(error))
    except OSError as error:
        return Outcome(task, "failed", f"{error.strerror or error}")
    return Outcome(task, "done", message)


def _init_worker(threads: int) -> None:
    """Size each worker's thread pools so that N workers do not oversubscribe the cores."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ[runtime.THREADS_VARIABLE] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _dask_client(scheduler: str):
    """A connected Dask client, or a one-line error within 5 s."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise HybridCodecError("--scheduler needs Dask: pip install 'hybridcodec[distributed]'") from None
    try:
        return Client(scheduler, timeout=5)
    except (OSError, TimeoutError) as error:
        raise HybridCodecError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None


def run_tasks(tasks: list[Task], jobs: int = 1, scheduler: str | None = None, progress: bool = True):
    """Yield an Outcome per task as it finishes: here, over ``jobs`` spawned
    processes, or on the Dask scheduler at ``scheduler``."""
    from tqdm import tqdm

    client = _dask_client(scheduler) if scheduler else None  # before the progress bar shows
    bar = tqdm(total=len(tasks), unit="file", disable=not progress or len(tasks) < 2)
    try:
        if client is not None:
            from dask.distributed import as_completed

            with client:
                for future in as_completed(client.map(run_task, tasks, pure=False)):
                    bar.update(1)
                    yield future.result()
        elif jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            threads = max(1, (os.cpu_count() or 1) // jobs)
            context = multiprocessing.get_context("spawn")  # no forked TensorFlow state
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                     initargs=(threads,)) as pool:
                for future in as_completed([pool.submit(run_task, t) for t in tasks]):
                    bar.update(1)
                    yield future.result()
        else:
            for task in tasks:
                outcome = run_task(task)
                bar.update(1)
                yield outcome
    finally:
        bar.close()


def summary(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    lines = [f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"]
    lines += [f"  failed: {o.task.source}: {o.message}" for o in outcomes if o.status == "failed"]
    return "\n".join(lines)


def run(command: str, inputs: list[str], output: str | None, options: dict, jobs: int = 1,
        scheduler: str | None = None, quiet: bool = False) -> int:
    """``compress`` or ``decompress`` of the inputs as the command line gives
    them; returns the exit status (0, or 1 if any file failed)."""
    if command == "compress" and options.get("native"):
        codecs.native_codec(options.get("codec") or DEFAULT_CODEC)  # refuse before any work
    single = (len(inputs) == 1 and not Path(inputs[0]).is_dir()
              and not (output and Path(output).is_dir()))
    if single:  # one file: errors are errors (exit 1), the output name may be given
        source = Path(inputs[0])
        target = Path(output) if output else default_output(source, command, options.get("codec") or DEFAULT_CODEC,
                                                              options.get("native", False))
        work = compress_file if command == "compress" else decompress_file
        try:
            message = work(source, target, **options, named=bool(output))
        except HybridCodecError as error:
            if str(source) in str(error):
                raise
            raise HybridCodecError(f"{source}: {error}") from None
        if not quiet:
            print(message, file=sys.stderr if str(target) == "-" else sys.stdout)
        return 0
    if output == "-":
        raise HybridCodecError("standard output (-o -) takes one input, not a folder or many files")
    if output:
        try:
            Path(output).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HybridCodecError(f"cannot make the folder {output}: {error.strerror or error}") from None
    tasks = plan(inputs, command, output, options)
    outcomes = list(run_tasks(tasks, jobs, scheduler, progress=not quiet))
    failed = any(o.status == "failed" for o in outcomes)
    if failed or not quiet:
        print(summary(outcomes), file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0
