"""Batch work: one pure function per file (files.py), mapped in this
process, over worker processes, or over a Dask cluster; ``run`` is what the
command line's compress and decompress do with their inputs.

Each task writes its output through a temporary file and a rename, so an
interrupted run leaves no partial files, and running it again finishes the
rest: existing outputs are skipped unless ``force``.

An interrupt stops the run within seconds: Ctrl-C or SIGTERM cancels what
is queued and ends the worker processes (each removes its temporary file),
and a worker whose parent was killed stops by itself. Before (0.7.2, 12
photos of 512x512, --jobs 2, jpeg; issue #37, and here on a loaded 2-core
EPYC): Ctrl-C went on for 42.7 s (here 11.6 s) and wrote 10 (9) more
files; SIGTERM stopped nothing; after SIGKILL of the parent the workers
wrote 2-4 (5) more files and lived on. Now each stops in 0.1-0.8 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import codecs, runtime
from .errors import HybridCodecError
from .files import (
    compress_file,
    decompress_file,
    default_output,
    is_our_output,
    remove_stale_temporaries,
    remove_temporaries,
)
from .images import IMAGE_SUFFIXES
from .pipeline import DEFAULT_CODEC
from .settings import EncodeSettings, names


@dataclass(frozen=True)
class Task:
    command: str  # "compress" or "decompress"
    source: str
    target: str
    options: dict = field(default_factory=dict)  # compress: force, named and "settings" (an EncodeSettings)


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


def _with_settings(command: str, options: dict) -> dict:
    """compress's options with its settings as one object, ``options["settings"]``
    (built here from loose setting names where a caller gave those)."""
    if command != "compress" or "settings" in options:
        return options
    loose = {name: value for name, value in options.items() if name in names()}
    rest = {name: value for name, value in options.items() if name not in loose}
    return {**rest, "settings": EncodeSettings.of(**loose)}


def _codec_native(command: str, options: dict) -> tuple[str, bool]:
    """The codec and native flag that name compress's default outputs."""
    settings = options.get("settings") if command == "compress" else None
    return (settings.codec, settings.native) if settings else (DEFAULT_CODEC, False)


def plan(inputs, command: str, outdir, options: dict) -> list[Task]:
    """One task per input; refuses, before any work and listing every clash,
    a run where two inputs would write one output, an output is one of the
    inputs, or an output exists and hybridcodec did not write it."""
    options = _with_settings(command, options)
    codec, native = _codec_native(command, options)
    options = {**options, "named": False}  # outputs named by the run: sources are never replaced
    tasks = []
    for source in expand_inputs(inputs, command):
        folder = Path(outdir) if outdir else source.parent
        tasks.append(Task(command, str(source), str(folder / default_output(source, command, codec, native).name),
                          options))
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
        _stop_if_signalled()  # the error may be a stop signal's doing: not a failed file
        return Outcome(task, "failed", str(error))
    except OSError as error:
        return Outcome(task, "failed", f"{error.strerror or error}")
    return Outcome(task, "done", message)


def _stop_if_signalled() -> None:
    """Stop the run if a SIGINT or SIGTERM came (runtime.stop_signal, set by
    cli.py), though the task went on: one inside ``import onnxruntime`` is an
    ImportError there, a failed file, and with the signals then ignored
    (cli.py) a --jobs 1 run went on through every file, unstoppable."""
    if runtime.stop_signal:
        raise KeyboardInterrupt  # cli.py's exit status comes from runtime.stop_signal


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
WORKER_STOP_S = 5  # after SIGTERM, how long a worker may take to stop before SIGKILL
PARENT_POLL_S = 0.2  # how often a worker checks that its parent is alive


def _init_worker(threads: int, parent: int) -> None:
    """Size each worker's thread pools so that N workers do not oversubscribe
    the cores, and make it stop with the run: Ctrl-C is the parent's to act
    on (it ends the workers), SIGTERM ends a worker at once (its temporary
    file removed), and a worker whose parent died stops within PARENT_POLL_S."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ[runtime.THREADS_VARIABLE] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    from .files import show_warning

    warnings.showwarning = show_warning  # one line, as the parent's (a spawned worker starts with Python's two)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


class _Stop(BaseException):
    """SIGTERM in a worker's task: unwinds it, so that its temporary file and
    the encoder's temporary folder (codecs.py) go, then the worker ends."""


_busy = False  # a worker is inside a task


def _work(task: Task) -> Outcome:
    """run_task in a worker process."""
    global _busy
    try:  # _Stop from anywhere in here, not only the task, ends the worker: not sent to the parent
        _busy = True
        try:
            return run_task(task)
        finally:
            _busy = False
    except _Stop:
        _stop_worker()


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwinding, not one per signal
    if _busy:
        raise _Stop
    _stop_worker()


def _stop_worker() -> None:
    remove_temporaries()
    os._exit(128 + signal.SIGTERM)


def _watch_parent(parent: int) -> None:
    """A killed parent's workers were reparented and went on writing (POSIX:
    getppid changes; on Windows it does not, and this never fires)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # unwinds in the main thread, as the parent's SIGTERM does
    time.sleep(WORKER_STOP_S)  # stuck in native code
    _stop_worker()


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait while the workers are spawned: a spawned
    worker inherits the mask, so a Ctrl-C in its first second (imports)
    waits for _init_worker instead of raising KeyboardInterrupt there, and
    the parent's is delivered once the pool is up. The mask holds only this
    thread: a signal taken by another (tqdm's monitor) still ran cli.py's
    handler here, between spawning a worker and writing its start-up data,
    and the worker died with a traceback (CI, 0.9.2). So the handlers only
    note the signal meanwhile, and it is raised again as the hold ends."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # its start unblocks SIGINT and SIGTERM: before they are blocked
    came = []
    # a handler set outside Python (getsignal: None) could not be put back: left alone
    handlers = {s: h for s in _STOP_SIGNALS if (h := signal.getsignal(s)) is not None}
    for stop in handlers:
        signal.signal(stop, lambda signum, frame: came.append(signum))
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # one blocked here is taken now, by the noting handler
        for stop, handler in handlers.items():
            signal.signal(stop, handler)
        if came:
            signal.raise_signal(came[0])  # the handler the run had, as if it came now


def _end_workers(pool) -> None:
    """Cancel the queued tasks and end the workers now. ``shutdown`` alone
    waits for every queued task (issue #37: 42.7 s after Ctrl-C). The
    processes are the pool's private ``_processes``: Python 3.14's
    ``terminate_workers`` is the public form."""
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError):
            process.terminate()  # SIGTERM: _stop_worker removes its temporary file
    deadline = time.monotonic() + WORKER_STOP_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():  # stuck in native code: its temporary file goes at the next run
            process.kill()
            process.join(1)


def _in_processes(tasks: list[Task], jobs: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # no forked TensorFlow state
    pool = None
    try:  # a signal held while the workers start fires as the block ends: the workers must end then too
        with _signals_held():
            pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                       initargs=(threads, os.getpid()))
            futures = [pool.submit(_work, t) for t in tasks]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool:
        if pool is not None:
            _end_workers(pool)
        raise HybridCodecError("a worker process ended without finishing its file (killed, or out of "
                               "memory?); run the command again to finish the rest") from None
    except BaseException:  # Ctrl-C, SIGTERM (cli.py), or the consumer stopped: end the workers now
        if pool is not None:
            _end_workers(pool)
        raise
    pool.shutdown()


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
    bar = tqdm(total=len(tasks), unit="file", disable=not progress or len(tasks) < 2 or not sys.stderr.isatty())
    try:
        if client is not None:
            from dask.distributed import as_completed

            with client:
                futures = client.map(run_task, tasks, pure=False)
                try:
                    for future in as_completed(futures):
                        bar.update(1)
                        yield future.result()
                except BaseException:  # the tasks already running on the workers finish there
                    with contextlib.suppress(Exception):
                        client.cancel(futures)
                    raise
        elif jobs > 1:
            with contextlib.closing(_in_processes(tasks, jobs)) as outcomes:  # closed: the workers end
                for outcome in outcomes:
                    bar.update(1)
                    yield outcome
        else:
            for task in tasks:
                outcome = run_task(task)
                _stop_if_signalled()
                bar.update(1)
                yield outcome
    finally:
        bar.close()


def summary(outcomes: list[Outcome], planned: int | None = None) -> str:
    """``N done, M skipped, K failed``, each failure's reason; with ``planned``
    (a run cut short), how many were not done."""
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    lines = [f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"]
    if planned is not None:
        lines[0] += f", {planned - len(outcomes)} not done (run the command again to finish them)"
    lines += [f"  failed: {o.task.source}: {o.message}" for o in outcomes if o.status == "failed"]
    return "\n".join(lines)


def run(command: str, inputs: list[str], output: str | None, options: dict, jobs: int = 1,
        scheduler: str | None = None, quiet: bool = False) -> int:
    """``compress`` or ``decompress`` of the inputs as the command line gives
    them; returns the exit status (0, or 1 if any file failed). A folder
    output (``-o`` an existing folder, a name ending in ``/``, or the output
    of many inputs) is made if missing, parents too, once the run is planned
    (a refused run makes nothing), like ``mkdir -p``."""
    options = _with_settings(command, options)
    codec, native = _codec_native(command, options)
    if native:
        codecs.native_codec(codec)  # refuse before any work
    to_folder = bool(output) and (Path(output).is_dir() or output.endswith(("/", os.sep)))
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not to_folder
    if single:  # one file: errors are errors (exit 1), the output name may be given
        source = Path(inputs[0])
        target = Path(output) if output else default_output(source, command, codec, native)
        remove_stale_temporaries([target])
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
    tasks = plan(inputs, command, output, options)
    if not tasks:  # only folders were given, and they hold nothing this command takes
        kinds = "images" if command == "compress" else ".hc or image files to decompress"
        raise HybridCodecError(f"no {kinds} in {', '.join(inputs)} (subfolders are not searched)")
    if output:
        try:
            Path(output).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HybridCodecError(f"cannot make the folder {output}: {error.strerror or error}") from None
    remove_stale_temporaries(t.target for t in tasks)
    existed = {t.target for t in tasks if Path(t.target).exists()}
    outcomes = []
    try:
        with contextlib.closing(run_tasks(tasks, jobs, scheduler, progress=not quiet)) as results:
            outcomes.extend(results)
    except (KeyboardInterrupt, HybridCodecError) as error:  # say what was done before the one line of why
        known = existed | {o.task.target for o in outcomes}  # and what a worker wrote as it stopped
        outcomes += [Outcome(t, "done") for t in tasks if t.target not in known and Path(t.target).exists()]
        if outcomes or isinstance(error, KeyboardInterrupt):  # not for a run that never started
            print(summary(outcomes, len(tasks)), file=sys.stderr)
        raise
    failed = any(o.status == "failed" for o in outcomes)
    if failed or not quiet:
        print(summary(outcomes), file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0
