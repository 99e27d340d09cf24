"""Where the series run: a local process pool, or Dask distributed. Both yield one row per task as it finishes.

Why these two (docs/batch.md has the longer answer): one machine needs nothing beyond the standard library
(``concurrent.futures.ProcessPoolExecutor``: processes, because the analysis is CPU-bound Python and LiteRT
calls; ``spawn``, so no worker inherits a half-initialised LiteRT or thread state from the coordinator; an
initializer loads the models once per worker). More than one machine needs a scheduler that hospitals' research
IT already runs on clusters (SLURM/PBS through dask-jobqueue, Kubernetes through dask-kubernetes) and that
restarts tasks of a worker that died; Dask distributed is that, installs from PyPI in pure Python with its
dependencies (about 40 MB), and its ``LocalCluster`` makes the multi-machine path testable on one machine.
Ray would also fit but brings a larger runtime (object store, raylet; wheels of several hundred MB) for work
that moves no large objects between tasks; it was not measured.

Both engines keep at most ``2 x workers`` tasks submitted at once, so memory stays bounded however long the
list, and a result is handed back (and journaled) the moment it arrives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from brainscan.batch.discover import Task
from brainscan.batch.work import Options, analyse_task, base_row, pool_worker_init, warm_up


def crashed_row(task: Task, options: Options, why: str) -> dict:
    row = base_row(task, options.deidentify)
    row.update(error_type="WorkerCrashed", error=why)
    return row


def _submit(pool, task: Task, options: Options, inflight: dict, back: deque) -> bool:
    """Submit ``task``; False (and ``task`` put back at the front of ``back``) when the pool is already broken."""
    try:
        inflight[pool.submit(analyse_task, task, options)] = task
    except BrokenProcessPool:
        back.appendleft(task)
        return False
    return True


def run_pool(tasks: Iterable[Task], options: Options, workers: int) -> Iterator[dict]:
    """Run ``tasks`` in ``workers`` local processes; yields rows in completion order.

    A worker that dies (killed for memory, a crash in native code) breaks a ProcessPoolExecutor, and every
    series in flight fails with it, whichever one caused it. Those series become suspects: a new pool runs them
    one at a time, alone, so the innocent ones finish and the one that kills its worker again, alone, gets a
    WorkerCrashed row; then the pool goes back to running ``workers`` series at once.
    """
    pending = deque(tasks)
    suspects: deque[Task] = deque()
    context = multiprocessing.get_context("spawn")
    limit_math_threads(options.threads)
    while pending or suspects:
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=pool_worker_init, initargs=(options.models, options.threads)
        )
        inflight: dict = {}
        alone: Task | None = None
        broken = False
        try:
            while (pending or suspects or inflight) and not broken:
                if suspects:
                    if not inflight:  # wait for the others to finish, then one suspect alone
                        alone = suspects.popleft()
                        broken = not _submit(pool, alone, options, inflight, suspects)
                else:
                    alone = None
                    while pending and len(inflight) < 2 * workers and not broken:
                        broken = not _submit(pool, pending.popleft(), options, inflight, pending)
                if broken:
                    break
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = inflight.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        inflight[future] = task  # handled with the others below
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            culprits = list(inflight.values())
            if alone is not None and culprits == [alone]:
                yield crashed_row(alone, options, "the worker process died while analysing this series")
            else:
                suspects.extend(culprits)


def run_dask(
    tasks: Iterable[Task], options: Options, scheduler: str | None = None, local_workers: int = 2
) -> Iterator[dict]:
    """Run ``tasks`` on a Dask cluster: the scheduler at ``scheduler`` (``tcp://HOST:8786``), or a LocalCluster
    of ``local_workers`` single-threaded worker processes started here. Every worker must see the series and
    the output folder at the same paths (a shared file system).

    Models load once per worker: ``client.run(warm_up)`` loads them on the workers present at the start, and a
    worker that joins later loads them with its first task (brainscan.batch.work.models_for).

    Raises:
        ModuleNotFoundError: when Dask distributed is not installed (the ``[batch]`` extra).
        OSError, TimeoutError: when the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster, as_completed
    from distributed.client import FutureCancelledError

    cluster = None
    if scheduler is None:
        limit_math_threads(options.threads)
        cluster = LocalCluster(
            n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout=30)
    try:
        client.run(warm_up, options.models, options.threads)
        slots = max(1, sum(client.nthreads().values()))
        pending = deque(tasks)
        submitted: dict[str, Task] = {}
        done = as_completed()

        def submit_next() -> None:
            task = pending.popleft()
            future = client.submit(analyse_task, task, options, pure=False, key=f"brainscan-batch-{task.key}")
            submitted[future.key] = task
            done.add(future)

        while pending and len(submitted) < 2 * slots:
            submit_next()
        for future in done:
            task = submitted.pop(future.key)
            try:
                yield future.result()
            except (FutureCancelledError, Exception) as exc:  # noqa: BLE001 - KilledWorker and the like
                yield crashed_row(task, options, f"the Dask worker failed on this series: {type(exc).__name__}: {exc}")
            future.release()
            if pending:
                submit_next()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


MATH_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_math_threads(threads: int | None) -> None:
    """Give the worker processes (they inherit this environment) at most ``threads`` numpy/scipy BLAS threads,
    unless the user set them. Why: each worker's BLAS otherwise starts one thread per core, so two workers on two
    cores run four busy threads and slow each other (measured: 2 workers 0.96x one worker with the defaults, 1.63x
    with one BLAS thread each; docs/performance.md)."""
    for variable in MATH_THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads or 1))
