"""Entry point of the frozen app (build_spec/brainscan.spec): behaves exactly like the ``brainscan`` command.

``brainscan`` with no arguments, or with files/folders, opens the window; ``brainscan analyze ...`` and
``brainscan info ...`` run headless. TensorFlow is not bundled, so the models run through LiteRT:
``BRAINSCAN_RUNTIME`` defaults to ``litert`` here (an explicit setting still wins, and then fails clearly).
Startup can be timed with ``BRAINSCAN_STARTUP_PROBE`` (see brainscan.app.run_gui and build_spec/bench_frozen.py).
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("BRAINSCAN_RUNTIME", "litert")
    from brainscan.cli import main

    sys.exit(main())
