"""`brainscan send PATH... --to AET@HOST:PORT` (C-STORE) and `brainscan echo --to AET@HOST:PORT` (C-ECHO).

Exit status of ``send``: 0 when every DICOM file was stored, 1 when some were refused, 2 when nothing was
sent (nothing to send, unknown host, refused or timed-out connection, rejected association). ``echo``: 0
when the PACS answered, 2 when not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from brainscan.errors import BrainScanError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="AET@HOST:PORT", help="the PACS, e.g. ORTHANC@pacs:4242")
    parser.add_argument("--calling-aet", default="BRAINSCAN", help="BrainScan's own AE title (default BRAINSCAN)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the PACS (default 20)")


def add_send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="DICOM files or folders (e.g. an --dicom-out folder)")
    _common(parser)


def add_echo_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def run_send(args: argparse.Namespace) -> int:
    from brainscan.pacs import parse_destination, send_files

    try:
        destination = parse_destination(args.to)
        report = send_files(args.paths, destination, calling_aet=args.calling_aet, timeout=args.timeout)
    except BrainScanError as exc:
        print(f"Nothing was sent: {exc}", file=sys.stderr)
        return 2
    for outcome in report.outcomes:
        stream = sys.stdout if outcome.ok else sys.stderr
        print(f"{outcome.message}: {outcome.path} ({outcome.sop_class})", file=stream)
    for path, reason in report.skipped:
        print(f"skipped: {path} ({reason})", file=sys.stderr)
    print(report.summary())
    if not report.sent:
        return 2
    return 1 if report.failed else 0


def run_echo(args: argparse.Namespace) -> int:
    from brainscan.pacs import echo, parse_destination

    try:
        destination = parse_destination(args.to)
        milliseconds = echo(destination, calling_aet=args.calling_aet, timeout=args.timeout)
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{destination} answered the DICOM echo in {milliseconds:.0f} ms.")
    return 0
