"""How outputs are written and how runs stop (issues #37 and #38): signals
stop a folder run within seconds and leave no partial file or live worker;
killed writers' temporary files go at the next run; two writers of one name
cannot both win; a full standard output is an error; default names and
folder outputs say what they do."""

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hybridcodec.batch as batch
import hybridcodec.files as files
import hybridcodec.runtime as runtime
from hybridcodec.cli import main
from hybridcodec.container import unpack
from hybridcodec.errors import HybridCodecError

CLI = [sys.executable, "-m", "hybridcodec.cli"]
posix_only = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the run's processes")


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def session_processes(session: int) -> list[int]:
    """The live processes of a session (the run, its workers, the resource
    tracker); not zombies, which a container's init may be slow to reap."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(entry.name)) == session and state != "Z":
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return found


# -- 1. a folder run stops within seconds: Ctrl-C, SIGTERM, a killed parent -----------------------------------


def ours(err: str) -> str:
    """Standard error less multiprocessing's resource tracker, a separate
    process that may still complain about a semaphore of the ended pool
    (already gone) after our last line; stripped."""
    lines = err.splitlines()
    kept = [line for k, line in enumerate(lines) if "resource_tracker" not in line
            and not (line.startswith("  warnings.warn(") and k and "resource_tracker" in lines[k - 1])]
    return "\n".join(kept).strip()


@posix_only
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_a_signal_stops_a_folder_run_and_its_workers(tmp_path, how):
    """0.7.2: Ctrl-C to the group went on 11-43 s writing 9-10 more files;
    SIGTERM stopped nothing (exit 130 after all 12); after SIGKILL the
    workers wrote 2-4 more files and lived on."""
    source = tmp_path / "in"
    source.mkdir()
    rng = np.random.default_rng(0)
    base = (rng.random((64, 64, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)  # 512x512
    for i in range(12):
        Image.fromarray(np.roll(base, 5 * i, axis=1)).save(source / f"{i:02}.png")
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"  # not a pipe: a worker that outlives the run would hold it open
    with open(log, "w") as stderr:
        run = subprocess.Popen([*CLI, "compress", str(source), "-o", str(out), "--jobs", "2", "--codec", "jpeg",
                                "-q"], stderr=stderr, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.hc")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before it could be stopped"
    at_signal = len(list(out.glob("*.hc")))
    start = time.monotonic()
    if how == "ctrl-c":  # what a terminal does: the whole process group
        os.killpg(run.pid, signal.SIGINT)
    else:
        run.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    try:
        code = run.wait(timeout=15)
        seconds = time.monotonic() - start
        while session_processes(run.pid) and time.monotonic() - start < 10:  # the workers, after a SIGKILL
            time.sleep(0.05)
        assert session_processes(run.pid) == [], "processes of the run outlived it"
        written = sorted(out.glob("*.hc"))
        time.sleep(0.5)
        assert sorted(out.glob("*.hc")) == written, "files appeared after the run stopped"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    # at most the files in the workers' hands at the signal are finished
    assert len(written) - at_signal <= 2, (at_signal, len(written))
    assert names(out) == [p.name for p in written]  # no temporary file left
    for path in written:
        unpack(path.read_bytes())
    if how != "sigkill":
        err = log.read_text()
        assert code == (130 if how == "ctrl-c" else 143) and seconds < 10, (code, seconds, err)
        assert "not done (run the command again" in err and ours(err).endswith("hybridcodec: interrupted"), err


@posix_only
def test_ctrl_c_while_the_workers_start_is_one_line_not_their_tracebacks(tmp_path, photo):
    """0.7.2: each worker still importing printed a KeyboardInterrupt traceback."""
    for i in range(4):
        Image.fromarray(np.roll(photo, 3 * i, axis=1)).save(tmp_path / f"{i}.png")
    run = subprocess.Popen([*CLI, "compress", str(tmp_path), "-o", str(tmp_path / "out"), "--jobs", "2", "-q"],
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(session_processes(run.pid)) < 4 and time.monotonic() < deadline:  # the run, its tracker, 2 workers
        time.sleep(0.005)
    os.killpg(run.pid, signal.SIGINT)
    try:
        assert run.wait(timeout=20) == 130
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    err = run.stderr.read()
    assert "Traceback" not in err and ours(err).endswith("hybridcodec: interrupted"), err


@posix_only
def test_a_ctrl_c_another_thread_takes_waits_for_the_hold_to_end():
    """The mask holds one thread: a Ctrl-C taken by tqdm's monitor thread ran
    the handler in the main thread mid-spawn, and a worker died reading its
    start-up data with a traceback (CI, 0.9.2)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # started before the hold: SIGINT not blocked there
    previous = signal.signal(signal.SIGINT, interrupt)
    other.start()
    inside = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with batch._signals_held():
                os.kill(os.getpid(), signal.SIGINT)  # to the process: the kernel picks the other thread
                for _ in range(50):  # as spawning does, let go of the GIL: the main thread takes up the signal then
                    time.sleep(0.01)
                inside = True
            time.sleep(0.5)  # raised by now, as the hold ends
    finally:
        stop.set()
        other.join()
        signal.signal(signal.SIGINT, previous)
    assert inside
    assert signal.getsignal(signal.SIGINT) is previous


def test_a_signal_held_while_the_workers_start_ends_them(tmp_path, monkeypatch):
    """A Ctrl-C held while the pool starts fires as the hold ends: that was
    before the ``try``, the workers were never ended, and multiprocessing's
    exit hook let them run every queued file, the run unstoppable."""
    @contextlib.contextmanager
    def held_then_fired():
        yield
        raise KeyboardInterrupt  # the held signal, delivered as the mask is restored

    ended = []
    real_end = batch._end_workers

    def end_workers(pool):
        ended.extend(pool._processes.values())
        real_end(pool)

    monkeypatch.setattr(batch, "_signals_held", held_then_fired)
    monkeypatch.setattr(batch, "_end_workers", end_workers)
    tasks = [batch.Task("compress", str(tmp_path / f"{i}.png"), str(tmp_path / f"{i}.hc")) for i in range(4)]
    with pytest.raises(KeyboardInterrupt):
        next(batch._in_processes(tasks, 2))
    deadline = time.monotonic() + 10  # ended, not merely signalled: reaping takes a moment on a loaded machine
    while any(process.is_alive() for process in ended) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended and not any(process.is_alive() for process in ended)


@posix_only
def test_ctrl_c_while_the_pool_starts_stops_the_run(tmp_path):
    """The same, end to end: the Ctrl-C comes while the run submits its
    tasks (signals held). Before, the run went on through all 12 files."""
    source = tmp_path / "in"
    source.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray((rng.random((256, 256, 3)) * 255).astype(np.uint8)).save(source / f"{i:02}.png")
    out = tmp_path / "out"
    program = ("import os, signal, sys\n"
               "from concurrent.futures import ProcessPoolExecutor\n"
               "import hybridcodec.cli as cli\n"
               "submit = ProcessPoolExecutor.submit\n"
               "def submit_then_ctrl_c(pool, *args):\n"
               "    if len(pool._pending_work_items) == 1:  # one worker started: Ctrl-C to the group, held\n"
               "        os.killpg(0, signal.SIGINT)\n"
               "    return submit(pool, *args)\n"
               "ProcessPoolExecutor.submit = submit_then_ctrl_c\n"
               "sys.argv = ['hybridcodec', *sys.argv[1:]]\n"
               "cli.run()\n")
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        run = subprocess.Popen([sys.executable, "-c", program, "compress", str(source), "-o", str(out), "--jobs", "2",
                                "--codec", "jpeg", "-q"], stderr=stderr, start_new_session=True)
    try:
        code = run.wait(timeout=60)
        deadline = time.monotonic() + 10
        while session_processes(run.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session_processes(run.pid) == [], "processes of the run outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    err = log.read_text()
    # Known noise, not ours: a worker still being spawned when the pool ends
    # finds its parent's pipe closed (EOFError in multiprocessing's spawn_main).
    assert code == 130 and err.count("Traceback") == err.count("in spawn_main"), err
    assert "hybridcodec: interrupted" in err, err
    assert len(list(out.glob("*.hc"))) <= 2, names(out)


def test_a_stop_signal_taken_for_a_failed_file_stops_a_jobs_1_run(tmp_path, photo, monkeypatch, capsys):
    """A SIGTERM inside ``import onnxruntime`` is an ImportError there, a
    failed file; with the signals then ignored, a --jobs 1 run went on
    through every file (exit 1), and nothing could stop it."""
    for i in range(3):
        Image.fromarray(photo).save(tmp_path / f"{i}.png")
    calls = []

    def stopped_in_an_import(source, target, **options):
        calls.append(source)
        runtime.stop_signal = signal.SIGTERM  # what cli.py's handler records, before the signal's ImportError
        raise HybridCodecError("onnxruntime is not installed: pip install onnxruntime")

    monkeypatch.setattr(runtime, "stop_signal", 0)
    monkeypatch.setattr(batch, "compress_file", stopped_in_an_import)
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "out"), "-q"]) == 143
    err = capsys.readouterr().err
    assert len(calls) == 1 and "3 not done" in err and "failed:" not in err, err


@pytest.mark.parametrize("line", ["_busy = True", "_busy = False"])
def test_a_workers_stop_anywhere_in_its_task_ends_it_not_the_parents_result(monkeypatch, line):
    """A worker's SIGTERM (_Stop) just before or after its task escaped
    ``_work``: the parent got _Stop as the task's result (a traceback) and
    the worker lived on with SIGTERM ignored."""
    stopped = []
    monkeypatch.setattr(batch, "_stop_worker", lambda: stopped.append(True))
    monkeypatch.setattr(batch, "run_task", lambda task: "done")
    code = batch._work.__code__
    source, first = inspect.getsourcelines(batch._work)
    at = first + next(i for i, text in enumerate(source) if text.strip() == line)

    def trace(frame, event, arg):  # the signal's exception, raised just as ``line`` runs
        if frame.f_code is not code:
            return None
        if event == "line" and frame.f_lineno == at:
            raise batch._Stop
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        batch._work(batch.Task("compress", "a.png", "a.hc"))
    finally:
        sys.settrace(previous)
    assert stopped == [True]


def test_a_signal_while_main_handles_an_error_exits_with_its_status_not_a_traceback():
    program = ("import signal, hybridcodec.cli as cli, hybridcodec.runtime as runtime\n"
               "def main():\n"
               "    runtime.stop_signal = signal.SIGTERM\n"
               "    raise cli._Terminated  # as cli.py's handler does, here while main() printed an error\n"
               "cli.main = main\n"
               "cli.run()\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == "hybridcodec: interrupted"


# -- 2. temporary files: ours are removed on the way out and at the next run ----------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_the_next_run_removes_a_killed_writers_temporary_files_not_a_live_ones(png, tmp_path, capsys):
    """0.7.2: SIGKILL during the write left .a.hc.RANDOM.tmp for good."""
    stale = tmp_path / f".a.hc.{dead_pid()}@{files._HOST}.0123abcd.tmp"
    live = tmp_path / f".a.hc.{os.getppid()}@{files._HOST}.0123abcd.tmp"  # the writer is alive
    elsewhere = tmp_path / f".a.hc.{dead_pid()}@another-host.0123abcd.tmp"  # a pid this host cannot check
    other = tmp_path / f".b.hc.{dead_pid()}@{files._HOST}.0123abcd.tmp"  # not an output of this run
    minutes_ago = time.time() - 2 * files.STALE_AFTER_S  # a fresh one may be a live writer's in another container
    for path in (stale, live, elsewhere, other):
        path.write_bytes(b"half")
        os.utime(path, (minutes_ago, minutes_ago))
    assert main(["compress", str(png), "-q"]) == 0
    assert not stale.exists() and live.exists() and elsewhere.exists() and other.exists()
    stale.write_bytes(b"half")  # a folder run too
    os.utime(stale, (minutes_ago, minutes_ago))
    assert main(["compress", str(png), "-o", f"{tmp_path / 'out'}/", "-q"]) == 0  # makes the folder
    moved = tmp_path / "out" / stale.name
    stale.rename(moved)
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert not moved.exists()


def test_a_signal_at_any_point_of_the_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    """0.7.2 made the temporary file with mkstemp: a signal between its
    creation and mkstemp's return left it, unknown to the cleanup."""
    real_open = os.open

    def open_then_interrupt(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if flags & os.O_CREAT:
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(files.os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(tmp_path / "out.hc", b"data", force=False)
    monkeypatch.undo()
    assert names(tmp_path) == []
    # the way out of a signal (cli.py, a worker) removes what the unwinding did not
    pending = tmp_path / f".x.hc.{os.getpid()}@{files._HOST}.0123abcd.tmp"
    pending.write_bytes(b"half")
    files._PENDING.add(pending)
    files.remove_temporaries()
    files._PENDING.discard(pending)
    assert names(tmp_path) == []


# -- 3. two writers of one name: exactly one wins ----------------------------------------------------------------


def test_racing_writers_of_one_output_exactly_one_wins(tmp_path, monkeypatch):
    """0.7.2: both passed the check and both renamed; the loser's data was
    the file, and both said success (6 of 20 CLI trials)."""
    writers = 8
    checked = threading.Barrier(writers)
    real_check = files.check_output

    def check_then_wait(*args, **kwargs):  # every writer passes the check before any writes
        real_check(*args, **kwargs)
        checked.wait(timeout=10)

    monkeypatch.setattr(files, "check_output", check_then_wait)
    target = tmp_path / "same.hc"
    results = [None] * writers

    def write(i):
        try:
            files.write_atomic(target, b"writer %d" % i, force=False)
            results[i] = "won"
        except HybridCodecError as error:
            results[i] = str(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("won") == 1, results
    winner = results.index("won")
    assert target.read_bytes() == b"writer %d" % winner
    assert all("exists" in r and "--force" in r for r in results if r != "won")
    assert names(tmp_path) == ["same.hc"]
    monkeypatch.undo()
    # --force: each replaces the file whole
    files.write_atomic(target, b"forced", force=True)
    assert target.read_bytes() == b"forced" and names(tmp_path) == ["same.hc"]


def test_two_identical_commands_one_output_one_exits_0(png, tmp_path):
    target = tmp_path / "same.hc"
    for _ in range(2):
        target.unlink(missing_ok=True)
        runs = [subprocess.Popen([*CLI, "compress", str(png), "-o", str(target), "--codec", "jpeg", "-q"],
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(run.wait(timeout=60), run.stderr.read()) for run in runs]
        assert sorted(code for code, _ in results) == [0, 1], results
        refusal = next(err for code, err in results if code == 1).strip()
        assert "\n" not in refusal and "exists" in refusal
        unpack(target.read_bytes())
        assert names(tmp_path) == ["a.png", "same.hc"]


# -- 4. standard output that cannot take it all is an error --------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_full_standard_output_is_one_line_and_exit_1(png, command):
    """0.7.2: an OSError traceback."""
    if command == "decompress":
        assert main(["compress", str(png), "--codec", "jpeg", "-q"]) == 0
    source = png if command == "compress" else png.with_suffix(".hc")
    with open("/dev/full", "wb") as full:
        result = subprocess.run([*CLI, command, str(source), "-o", "-", "-q"], stdout=full,
                                stderr=subprocess.PIPE, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"hybridcodec: error: {source}: cannot write standard output: No space left on device"]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_standard_output_that_takes_only_part_is_an_error_not_a_truncated_file(png, tmp_path):
    """0.7.2: with 8 KB free, exit 0 and 8,192 of 52,805 bytes."""
    import resource

    assert main(["compress", str(png), "--codec", "jpeg", "-q"]) == 0
    whole = subprocess.run([*CLI, "decompress", str(png.with_suffix(".hc")), "-o", "-", "-q"],
                           capture_output=True, check=True).stdout
    assert len(whole) > 12_000
    with open(tmp_path / "part.png", "wb") as part:  # a file that may grow to 8 KB: a nearly full disk
        result = subprocess.run([*CLI, "decompress", str(png.with_suffix(".hc")), "-o", "-", "-q"], stdout=part,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)))
    assert result.returncode == 1 and "cannot write standard output" in result.stderr, result.stderr
    assert (tmp_path / "part.png").stat().st_size == 8192


# -- 5. names: advice that works at once, defaults that do not collide -----------------------------------------


def test_a_source_photo_in_the_way_gets_the_advice_that_works_at_once(png, tmp_path, capsys):
    """0.7.2 said "use --force", and --force then said "name it with -o"."""
    assert main(["compress", str(png), "--codec", "jpeg", "-q"]) == 0
    capsys.readouterr()
    assert main(["decompress", str(tmp_path / "a.hc")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not written by hybridcodec" in err
    assert f"-o {png} --force" in err and "another output with -o" in err
    before = png.read_bytes()
    assert main(["decompress", str(tmp_path / "a.hc"), "-o", str(png), "--force", "-q"]) == 0  # as advised
    assert png.read_bytes() != before


def test_native_files_of_two_codecs_decompress_to_two_names(png, tmp_path):
    """0.7.2: x.hc.jpg and x.hc.avif both gave x.hc.png; the second needed --force and replaced the first."""
    for codec in ("jpeg", "webp"):
        assert main(["compress", str(png), "--codec", codec, "--native", "-q"]) == 0
    assert main(["decompress", str(tmp_path / "a.hc.jpg"), "-q"]) == 0
    assert main(["decompress", str(tmp_path / "a.hc.webp"), "-q"]) == 0
    assert {"a.jpg.png", "a.webp.png"} <= set(names(tmp_path))
    folder = tmp_path / "restored"
    assert main(["decompress", str(tmp_path / "a.hc.jpg"), str(tmp_path / "a.hc.webp"), "-o", str(folder), "-q"]) == 0
    assert names(folder) == ["a.jpg.png", "a.webp.png"]
    assert files.default_output(Path("x.hc"), "decompress") == Path("x.png")  # unchanged
    assert files.default_output(Path("photo.jpg"), "decompress") == Path("photo.jpg.png")


# -- 6. folders ----------------------------------------------------------------------------------------------------


def test_a_trailing_slash_names_a_folder_that_is_made(png, tmp_path, capsys):
    """0.7.2: -o missing/ for one input said compress writes .hc files."""
    assert main(["compress", str(png), "-o", str(tmp_path / "new" / "deeper") + "/", "-q"]) == 0
    assert names(tmp_path / "new" / "deeper") == ["a.hc"]
    capsys.readouterr()
    assert main(["compress", str(png), "-o", str(tmp_path / "nodir")]) == 1  # a file name without extension
    assert "a folder is named with a / at the end" in capsys.readouterr().err
    assert not (tmp_path / "nodir").exists()


def test_a_refused_folder_run_makes_no_folder(png, photo, tmp_path, capsys):
    Image.fromarray(photo).save(tmp_path / "a.jpg")  # a.png and a.jpg both give a.hc: refused
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    assert "would both write" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_folder_of_subfolders_says_no_images_and_exits_1(png, tmp_path, command, capsys):
    """0.7.2: "0 done, 0 skipped, 0 failed" and exit 0."""
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    png.rename(top / "sub" / "a.png")
    if command == "decompress":
        assert main(["compress", str(top / "sub" / "a.png"), "-q"]) == 0
    assert main([command, str(top), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(top) in err and "subfolders are not searched" in err
    assert not (tmp_path / "out").exists()


def test_a_stopped_dask_run_cancels_what_is_queued(tmp_path, photo):
    distributed = pytest.importorskip("dask.distributed")
    from hybridcodec.batch import plan, run_tasks

    for i in range(12):
        Image.fromarray(np.roll(photo, 3 * i, axis=1)).save(tmp_path / f"{i:02}.png")
    out = tmp_path / "out"
    out.mkdir()
    tasks = plan([str(tmp_path)], "compress", str(out), {"codec": "jpeg"})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        outcomes = run_tasks(tasks, scheduler=cluster.scheduler_address, progress=False)
        assert next(outcomes).status == "done"
        outcomes.close()  # what Ctrl-C in the consumer does
        time.sleep(2)
        written = len(list(out.glob("*.hc")))
    assert written <= 3, written  # the first, and those the worker held at the stop
