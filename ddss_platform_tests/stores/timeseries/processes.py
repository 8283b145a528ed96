"""Run writer and reader functions in separate processes at the same moment (multi-process store tests).

Writers are called with no argument; readers get an Event that is set once every writer has finished, and
loop until then. Each function must be picklable (a module-level function or a functools.partial of one).
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import traceback
from collections.abc import Callable, Mapping
from typing import Any


def _run(name, fn, barrier, done, results, reader):
    try:
        barrier.wait(timeout=120)
        results.put((name, True, fn(done) if reader else fn()))
    except BaseException:  # report every failure, whatever it is, to the test
        results.put((name, False, traceback.format_exc()))


def run_concurrently(
    writers: Mapping[str, Callable[[], Any]], readers: Mapping[str, Callable[[Any], Any]], timeout: float = 300
) -> dict[str, Any]:
    """Each function's return value by name; AssertionError with the tracebacks if any process failed."""
    ctx = mp.get_context("spawn")
    barrier, done, results = ctx.Barrier(len(writers) + len(readers)), ctx.Event(), ctx.Queue()
    procs = {
        name: ctx.Process(target=_run, args=(name, fn, barrier, done, results, name in readers), name=name)
        for name, fn in {**writers, **readers}.items()
    }
    for p in procs.values():
        p.start()
    outcome = {}
    try:
        while len(outcome) < len(procs):
            name, ok, value = results.get(timeout=timeout)
            outcome[name] = (ok, value)
            if all(w in outcome for w in writers):
                done.set()
    finally:
        done.set()
        for p in procs.values():
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    failed = {name: value for name, (ok, value) in outcome.items() if not ok}
    assert not failed, "\n".join(f"--- {name} ---\n{tb}" for name, tb in failed.items())
    assert all(p.exitcode == 0 for p in procs.values()), {n: p.exitcode for n, p in procs.items()}
    return {name: value for name, (_ok, value) in outcome.items()}


def run_store_scenario(root: str, scoring_writer, batch_writer, reader) -> dict[str, Any]:
    """The four processes of a multi-process store test, each given the store's `root`: a scoring-style
    writer, a batch writer and two copies of `reader` (which must each complete at least 3 rounds)."""
    results = run_concurrently(
        writers={"scoring": functools.partial(scoring_writer, root), "batch": functools.partial(batch_writer, root)},
        readers={"reader-1": functools.partial(reader, root), "reader-2": functools.partial(reader, root)},
    )
    assert results["reader-1"] >= 3 and results["reader-2"] >= 3, results
    return results
