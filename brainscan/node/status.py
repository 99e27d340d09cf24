"""``brainscan listen --status``: the job table in lines a person reads."""

from __future__ import annotations

import datetime as dt

from brainscan.storage.jobs import STATES, Job


def format_jobs(jobs: list[Job]) -> str:
    """One line per job (newest last) and a count per state."""
    if not jobs:
        return "No series received yet."
    lines = []
    for job in jobs:
        when = dt.datetime.fromtimestamp(job.last_received).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{job.id:>4}  {job.state:<9}  {when}  {job.n_instances:>4} image(s)  from {job.calling_aet or '?'}"
        line += f"  series {job.series_uid}"
        if job.summary:
            line += f"\n      {job.summary}"
        if job.reason:
            line += f"\n      {job.reason}"
        if job.analyses > 1:
            line += f"\n      analysed {job.analyses} times"
        lines.append(line)
    counts = {state: sum(j.state == state for j in jobs) for state in STATES}
    lines.append("  ".join(f"{state}: {n}" for state, n in counts.items() if n))
    return "\n".join(lines)
