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


# ---- query / retrieve / cache ------------------------------------------------------------------------------
def _source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="AET@HOST:PORT", help="the PACS to search")
    parser.add_argument("--calling-aet", default="BRAINSCAN", help="BrainScan's own AE title (default BRAINSCAN)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the PACS (default 20)")


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    _source(parser)
    parser.add_argument("--patient-name", default="", help="name or its beginning (Doe finds Doe^Jane); * and ?")
    parser.add_argument("--patient-id", default="", help="the exact patient ID")
    parser.add_argument("--date-from", default="", metavar="YYYY-MM-DD", help="studies on or after this date")
    parser.add_argument("--date-to", default="", metavar="YYYY-MM-DD", help="studies on or before this date")
    parser.add_argument("--modality", default="MR", help="studies with a series of this modality (default MR; '' any)")
    parser.add_argument("--series", action="store_true", help="also list the series of each study")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def add_retrieve_arguments(parser: argparse.ArgumentParser) -> None:
    _source(parser)
    parser.add_argument("--study", required=True, metavar="UID", help="Study Instance UID (from brainscan query)")
    parser.add_argument("--series", required=True, metavar="UID", help="Series Instance UID (from brainscan query)")
    parser.add_argument(
        "--method", choices=("get", "move"), default="get", help="C-GET (default) or C-MOVE to BrainScan's own port"
    )
    parser.add_argument("--move-port", type=int, default=11113, help="where BrainScan receives a C-MOVE (11113)")
    parser.add_argument("--out", type=Path, help="write the images here instead of the cache")
    parser.add_argument("--refresh", action="store_true", help="retrieve again even when the cache holds the series")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clear", action="store_true", help="delete every retrieved series from the cache")


def run_query(args: argparse.Namespace) -> int:
    """Exit 0 with matches, 1 when nothing matched, 2 when the search failed."""
    import json

    from brainscan.pacs import date_range, find_series, find_studies, parse_destination
    from brainscan.text import printable

    try:
        source = parse_destination(args.source)
        studies = find_studies(
            source,
            patient_name=args.patient_name,
            patient_id=args.patient_id,
            dates=date_range(args.date_from, args.date_to),
            modality=args.modality,
            calling_aet=args.calling_aet,
            timeout=args.timeout,
        )
        series = {}
        if args.series:
            for study in studies:
                series[study.study_uid] = find_series(
                    source, study.study_uid, modality=args.modality, calling_aet=args.calling_aet, timeout=args.timeout
                )
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not studies:
        print(f"No studies match in {source}.", file=sys.stderr)
        return 1
    if args.json:
        from dataclasses import asdict

        payload = [dict(asdict(s), series=[asdict(x) for x in series.get(s.study_uid, [])]) for s in studies]
        print(json.dumps(payload, indent=2))
        return 0
    for study in studies:
        counts = f"{study.n_series if study.n_series is not None else '?'} series"
        print(printable(
            f"{study.study_date or '--------'}  {study.patient_name}  [{study.patient_id}]  "
            f"{study.description or '(no description)'}  {study.modalities}  {counts}  study {study.study_uid}"
        ))  # fmt: skip
        for item in series.get(study.study_uid, []):
            number = item.number if item.number is not None else "-"
            images = item.n_instances if item.n_instances is not None else "?"
            print(printable(f"    #{number} {item.modality} {item.description or '(no description)'}  "
                            f"{images} image(s)  series {item.series_uid}"))  # fmt: skip
    return 0


def run_retrieve(args: argparse.Namespace) -> int:
    """Exit 0 when the series arrived whole, 1 when partial or cancelled, 2 when nothing could be retrieved."""
    from brainscan.pacs import parse_destination, retrieve_series

    last = [-1]

    def progress(done: int, total: int, message: str) -> None:
        if not args.quiet and total and done * 10 // total > last[0]:
            last[0] = done * 10 // total
            print(f"{message} of {total}", file=sys.stderr)

    try:
        source = parse_destination(args.source)
        report = retrieve_series(
            source,
            args.study,
            args.series,
            folder=args.out,
            method=args.method,
            calling_aet=args.calling_aet,
            timeout=args.timeout,
            move_port=args.move_port,
            on_progress=progress,
            refresh=args.refresh,
        )
    except BrainScanError as exc:
        print(f"Nothing was retrieved: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if report.received:
        print(f"Analyse it with: brainscan analyze {report.folder}")
    if report.complete or report.from_cache:
        return 0
    return 1 if report.received else 2


def run_cache(args: argparse.Namespace) -> int:
    from brainscan.pacs import cache

    try:
        root = cache.cache_root()
        if args.clear:
            count, freed = cache.clear(root)
            print(f"Cache cleared: {count} series, {freed / 1e6:.1f} MB removed from {root}.")
            return 0
        limit = cache.limit_bytes()
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    count = len(cache.series_folders(root))
    limit_text = f"{limit / 1e6:.0f} MB" if limit > 0 else "no limit"
    print(f"{root}: {count} series, {cache.size(root) / 1e6:.1f} MB (limit {limit_text}, BRAINSCAN_CACHE_LIMIT_MB)")
    return 0


def add_pacs_parsers(sub, func) -> None:
    """Register query, retrieve, cache and listen under the ``brainscan`` command (``func`` dispatches them)."""
    add_query_arguments(sub.add_parser("query", help="search a PACS for studies (C-FIND)"))
    add_retrieve_arguments(
        sub.add_parser("retrieve", help="retrieve a series from a PACS into the cache (C-GET or C-MOVE)")
    )
    add_cache_arguments(sub.add_parser("cache", help="size of the cache of retrieved series; --clear empties it"))
    add_listen_arguments(
        sub.add_parser("listen", help="run a DICOM node: analyse each series it is sent, send the results back")
    )
    for name in ("query", "retrieve", "cache", "listen"):
        sub.choices[name].set_defaults(func=func)


# ---- listen: the DICOM node ----------------------------------------------------------------------------------
def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--aet", default="BRAINSCAN", help="this node's AE title (default BRAINSCAN)")
    parser.add_argument("--port", type=int, default=11112, help="port to listen on (default 11112)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"
    )
    parser.add_argument(
        "--allow", action="append", default=[], metavar="AET",
        help="a calling AE title allowed to send (repeat; default: any on 127.0.0.1, required on other addresses)",
    )  # fmt: skip
    parser.add_argument("--send-to", metavar="AET@HOST:PORT", help="store the SEG and report back here")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds without a new image before a series counts as complete"
    )
    parser.add_argument("--dir", type=Path, help="the node's folder (default: the per-user data folder's node/)")
    parser.add_argument("--no-history", action="store_true", help="do not save the studies in the history")
    parser.add_argument("--status", action="store_true", help="list the node's jobs and exit")


def run_listen(args: argparse.Namespace) -> int:
    """Run until interrupted: 0 after a clean stop, 2 when the node cannot start. ``--status``: 0."""
    import logging

    from brainscan.node import Node, format_jobs, node_folder
    from brainscan.pacs import parse_destination
    from brainscan.text import printable

    try:
        folder = args.dir or node_folder()
        if args.status:
            from brainscan.storage.jobs import JobStore

            path = folder / "jobs.sqlite"
            if not path.exists():
                print(f"No node has run on {folder} yet.")
                return 0
            store = JobStore(path, readonly=True)
            try:
                print(printable(format_jobs(store.jobs())))
            finally:
                store.close()
            return 0
        if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow:
            print(
                f"Listening on {args.host} lets other computers send patient images here: name the senders with "
                "--allow AET (repeatable).",
                file=sys.stderr,
            )
            return 2
        send_to = parse_destination(args.send_to) if args.send_to else None
        from brainscan.runtime.loading import load_shipped_models

        def models():
            loaded = load_shipped_models()
            for warning in loaded.warnings:
                logging.getLogger("brainscan.node").warning(warning)
            return loaded

        history = None
        if not args.no_history:
            from brainscan.storage import default_history_path

            history = default_history_path()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for noisy in ("pynetdicom", "fontTools"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        node = Node(
            folder, models, ae_title=args.aet, host=args.host, port=args.port,
            allowed_callers=args.allow or None, send_to=send_to, settle_s=args.settle, history_path=history,
            on_change=lambda job: print(printable(
                f"job {job.id} {job.state}: {job.summary or job.reason or job.series_uid}"
            ), flush=True),
        )  # fmt: skip
        port = node.start()
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    allowed = ", ".join(args.allow) if args.allow else "any AE title"
    print(
        f"BrainScan node {args.aet} listening on {args.host}:{port} (senders: {allowed}); results in {folder}"
        + (f", sent to {send_to}" if send_to else ""),
        flush=True,
    )
    node.run()
    return 0
