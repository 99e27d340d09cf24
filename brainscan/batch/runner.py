"""A batch run: discover, skip what the journal already has, run the rest on an engine, keep the table.

The coordinator (this process) is the journal's one writer: workers return rows, it commits each as it arrives
and rewrites the table every ``table_every_s`` seconds and at the end, also after Ctrl-C or an error.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from brainscan.batch.discover import Task, discover
from brainscan.batch.table import CSV, JOURNAL, PARQUET, Journal, have_pyarrow, write_table
from brainscan.batch.work import DICOM_FOLDER, SERIES_FOLDER, Options


@dataclass
class Plan:
    """Where and how: ``engine`` is "pool" or "dask"; ``scheduler`` None with "dask" starts a LocalCluster."""

    engine: str = "pool"
    workers: int = 1
    scheduler: str | None = None
    retry_failed: bool = False
    table_every_s: float = 30.0


@dataclass
class Outcome:
    found: int = 0
    skipped: int = 0
    rows: list[dict] = field(default_factory=list)  # the rows made in this run
    table: list[dict] = field(default_factory=list)  # the whole table at the end
    seconds: float = 0.0
    discover_seconds: float = 0.0
    first_result_seconds: float | None = None  # from starting the engine to its first row (workers, models)
    engine_seconds: float = 0.0  # from starting the engine to its last row
    first_row_seconds: float | None = None  # the first row's own ``seconds`` (so startup = first_result - this)
    stopped: str = ""  # why the run stopped early (models could not be loaded), else ""

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("error_type")]


class Progress:
    """One status line on stderr: series done of total, series/s, time left, failures. On a non-terminal a
    line every 10 % (or every 60 s) instead of redrawing."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.enabled = total, enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.done = self.failed = 0
        self.last_decile, self.last_line = -1, self.start

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        fraction = self.done / self.total
        text = f"{self.done}/{self.total} series, {rate:.2f} series/s, {left:.0f} s left" + (
            f", {self.failed} failed" if self.failed else ""
        )
        if self.tty:
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r[{bar:<30}] {fraction:4.0%} {text}   ")
            if self.done == self.total:
                self.stream.write("\n")
        elif int(fraction * 10) > self.last_decile or now - self.last_line >= 60:
            self.last_decile, self.last_line = int(fraction * 10), now
            self.stream.write(f"batch: {fraction:.0%} ({text})\n")
        self.stream.flush()


def run_batch(
    roots: list[Path],
    listed: list[Path],
    options: Options,
    plan: Plan,
    progress: bool = True,
    say=print,
) -> Outcome:
    """Analyse every series under ``roots`` and in ``listed`` not yet in ``options.out``'s journal.

    Raises:
        ModuleNotFoundError: for the Dask engine without Dask installed.
    """
    started = time.perf_counter()
    out = Path(options.out)
    for folder in (out, out / SERIES_FOLDER) + ((out / DICOM_FOLDER,) if options.dicom_out else ()):
        folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(out / JOURNAL)
    parquet = have_pyarrow()
    outcome = Outcome()
    try:
        tasks = discover(roots, listed)
        outcome.discover_seconds = time.perf_counter() - started
        outcome.found = len(tasks)
        done = journal.done_keys(include_failed=not plan.retry_failed)
        todo: list[Task] = [t for t in tasks if t.key not in done]
        outcome.skipped = len(tasks) - len(todo)
        if outcome.skipped:
            say(f"{outcome.skipped} of {len(tasks)} series are already in the table; {len(todo)} to analyse.")
        bar = Progress(len(todo), enabled=progress)
        last_table = time.perf_counter()
        if todo:
            engine_start = time.perf_counter()
            if plan.engine == "dask":
                from brainscan.batch.engines import run_dask

                rows = run_dask(todo, options, plan.scheduler, plan.workers)
            else:
                from brainscan.batch.engines import run_pool

                rows = run_pool(todo, options, plan.workers)
            try:
                for row in rows:
                    if row.get("error_type") == "ModelError":
                        outcome.stopped = f"The models could not be loaded on {row.get('worker')}: {row['error']}"
                        break
                    journal.add(row)
                    outcome.rows.append(row)
                    outcome.engine_seconds = time.perf_counter() - engine_start
                    if outcome.first_result_seconds is None:
                        outcome.first_result_seconds = round(outcome.engine_seconds, 3)
                        outcome.first_row_seconds = row.get("seconds")
                    bar.update(bool(row.get("error_type")))
                    if time.perf_counter() - last_table >= plan.table_every_s:
                        write_table(journal, out, parquet)
                        last_table = time.perf_counter()
            finally:
                close = getattr(rows, "close", None)
                if close is not None:
                    close()
    finally:
        outcome.table = write_table(journal, out, parquet)
        journal.close()
        outcome.seconds = time.perf_counter() - started
        write_run_record(outcome, plan, out)
    return outcome


def write_run_record(outcome: Outcome, plan: Plan, out: Path) -> None:
    """``OUT/last_run.json``: this run's counts and timings (what docs/performance.md's batch figures use)."""
    made = outcome.rows
    record = {
        "engine": plan.engine,
        "workers": plan.workers,
        "found": outcome.found,
        "skipped": outcome.skipped,
        "analysed": len(made),
        "failed": len(outcome.failed),
        "stopped": outcome.stopped,
        "seconds": round(outcome.seconds, 3),
        "discover_seconds": round(outcome.discover_seconds, 3),
        "first_result_seconds": outcome.first_result_seconds,
        "first_row_seconds": outcome.first_row_seconds,
        "engine_seconds": round(outcome.engine_seconds, 3),
        "sum_series_seconds": round(sum(r.get("seconds") or 0 for r in made), 3),
        "sum_load_seconds": round(sum(r.get("load_seconds") or 0 for r in made), 3),
        "sum_analysis_seconds": round(sum(r.get("analysis_seconds") or 0 for r in made), 3),
    }
    (out / "last_run.json").write_text(json.dumps(record, indent=2) + "\n")


def summary_lines(outcome: Outcome, out: Path, parquet: bool) -> list[str]:
    """The end-of-run summary: counts, by verdict, failures by reason (one example each), where the table is."""
    made = outcome.rows
    rate = len(made) / outcome.seconds if outcome.seconds > 0 else 0.0
    lines = [
        f"{len(made)} series analysed in {outcome.seconds:.1f} s ({rate:.2f} series/s); "
        f"{outcome.skipped} already in the table; {len(outcome.failed)} failed."
    ]
    verdicts = Counter(r["verdict"] or "failed" for r in outcome.table)
    if verdicts:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(verdicts.items()))
        lines.append(f"Table ({len(outcome.table)} series): {counts}")
    reasons: dict[str, list[str]] = {}
    for row in outcome.failed:
        reasons.setdefault(row["error_type"], []).append(row.get("error") or "")
    for kind, messages in sorted(reasons.items()):
        lines.append(f"  failed, {kind}: {len(messages)} (e.g. {messages[0][:160]})")
    if parquet:
        lines.append(f"Results: {out / PARQUET} and {out / CSV}")
    else:
        lines.append(f"Results: {out / CSV} (no Parquet: pyarrow, from the [batch] extra, is not installed)")
    return lines
