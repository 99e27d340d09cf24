"""Run a ``brainscan listen`` node with the fake models of tests/fakes.py in its own process, so that tests and
tools/node_reliability.py can kill it with SIGKILL:

    python -m tests.node.fake_node --dir DIR --port PORT [--send-to AET@HOST:PORT] [--delay S] [--settle S]

It prints ``READY <port>`` once it listens. ``--delay`` slows the fake classifier per batch of slices, to give
a kill time to land during an analysis. ``--real`` uses the shipped models instead (LiteRT).
"""

from __future__ import annotations

import argparse
import logging
import sys
import types
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--send-to")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--retry", type=float, default=0.5)
    parser.add_argument("--allow", action="append")
    parser.add_argument("--real", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("pynetdicom", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from brainscan.node import Node
    from brainscan.pacs import parse_destination

    if args.real:
        from brainscan.runtime.loading import load_shipped_models

        models = load_shipped_models
    else:
        from tests.fakes import FakeClassifier, FakeSegmenter

        models = types.SimpleNamespace(classifier=FakeClassifier(delay=args.delay), segmenter=FakeSegmenter())
    node = Node(
        args.dir, models, port=args.port, settle_s=args.settle, retry_base_s=args.retry, retry_max_s=5.0,
        send_to=parse_destination(args.send_to) if args.send_to else None, allowed_callers=args.allow,
        send_timeout=10.0,
    )  # fmt: skip
    port = node.start()
    print(f"READY {port}", flush=True)
    node.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
