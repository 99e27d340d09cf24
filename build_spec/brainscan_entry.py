"""Entry point of the frozen app (build_spec/brainscan.spec): behaves exactly like the ``brainscan`` command.

``brainscan`` with no arguments, or with files/folders, opens the window; ``brainscan analyze ...`` and
``brainscan info ...`` run headless. TensorFlow is not bundled, so the models run through LiteRT:
``BRAINSCAN_RUNTIME`` defaults to ``litert`` here (an explicit setting still wins, and then fails clearly).
Startup can be timed with ``BRAINSCAN_STARTUP_PROBE`` (see brainscan.app.run_gui and build_spec/bench_frozen.py).
``multiprocessing.freeze_support()`` comes first: ``brainscan batch`` starts its workers (and multiprocessing its
resource tracker) by running this executable again; without it each child would parse their command as ours.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    os.environ.setdefault("BRAINSCAN_RUNTIME", "litert")
    from brainscan.cli import main

    sys.exit(main())
