"""Read an ``strace -f`` log of the frozen app: did it open network sockets, and where did it write?

    strace -f -qq -e trace=%network,%file -o TRACE dist/BrainScan/brainscan ...
    python build_spec/trace_check.py TRACE --cwd DIR --allow PREFIX [--allow PREFIX ...]

Network: every successful ``socket()`` is counted by address family; an AF_INET or AF_INET6 socket fails the
check (AF_UNIX, e.g. D-Bus, and AF_NETLINK are local to the machine and are only reported). Writes: every
successful open for writing or creation, mkdir, rename, unlink, link, symlink and truncate must name a path
under one of the ``--allow`` prefixes (``/dev/null`` and ``/dev/tty`` are always allowed, and so is creating
the parent folders of an allowed folder). Prints a JSON
summary; exit status 1 on a violation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
PATH_CALLS = {
    "mkdir",
    "mkdirat",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "truncate",
    "creat",
}


def resolve(path: str, cwd: Path) -> str:
    return os.path.normpath(path if path.startswith("/") else str(cwd / path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--cwd", type=Path, required=True, help="working directory the app ran in")
    parser.add_argument("--allow", action="append", default=[], help="path prefix the app may write under")
    args = parser.parse_args(argv)
    allowed = [os.path.normpath(p) for p in args.allow] + ["/dev/null", "/dev/tty"]

    families: Counter[str] = Counter()
    connects: Counter[str] = Counter()
    writes: set[str] = set()
    for line in args.trace.read_text(errors="replace").splitlines():
        m = CALL.match(line)
        if not m or m.group(4) == "?" or int(m.group(4)) < 0:
            continue
        call, body = m.group(2), m.group(3)
        if call == "socket":
            families[body.split(",", 1)[0].strip()] += 1
        elif call == "connect":
            family = re.search(r"sa_family=(\w+)", body)
            target = STRING.search(body)
            connects[f"{family.group(1) if family else '?'} {target.group(1) if target else ''}".strip()] += 1
        elif call in ("open", "openat", "openat2"):
            path = STRING.search(body)
            if path and any(flag in body for flag in WRITE_FLAGS):
                writes.add(resolve(path.group(1), args.cwd))
        elif call in PATH_CALLS:
            paths = STRING.findall(body)
            if call in ("link", "linkat", "symlink", "symlinkat"):
                paths = paths[-1:]  # only the new name is written (the source may be /proc/self/fd/N)
            for path in paths:
                path = resolve(path, args.cwd)
                if call.startswith("mkdir") and any(a.startswith(path.rstrip("/") + "/") for a in allowed):
                    continue  # creating the parents of an allowed folder (e.g. ~/.local/share)
                writes.add(path)

    outside = sorted(w for w in writes if not any(w == a or w.startswith(a.rstrip("/") + "/") for a in allowed))
    network = {f: n for f, n in families.items() if f in ("AF_INET", "AF_INET6", "AF_PACKET")}
    summary = {
        "sockets_by_family": dict(families),
        "connects": dict(connects),
        "network_sockets": network,
        "paths_written": len(writes),
        "written_outside_allowed": outside,
    }
    print(json.dumps(summary, indent=2))
    return 1 if network or outside else 0


if __name__ == "__main__":
    sys.exit(main())
