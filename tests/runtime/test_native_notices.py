"""The LiteRT start-up notice stays off stderr; everything else printed meanwhile still reaches it."""

from __future__ import annotations

import os
import subprocess
import sys

from brainscan.runtime.native_notices import known_native_notices_quiet, without_known_notices

NOTICE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def test_known_notice_lines_are_dropped_and_others_kept():
    kept, dropped = without_known_notices(f"first\n{NOTICE}\nERROR: real trouble\n")
    assert kept == "first\nERROR: real trouble\n"
    assert dropped == [NOTICE]


def test_native_writes_in_the_window_are_passed_on_except_the_notice(capfd):
    with known_native_notices_quiet():
        os.write(2, f"{NOTICE}\nERROR: something native went wrong\n".encode())
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert NOTICE not in err
    assert "ERROR: something native went wrong\n" in err
    assert err.index("something native") < err.index("after")


def test_opening_a_shipped_litert_model_prints_no_notice():
    """In a fresh process (the notice is printed once per process, by the first interpreter)."""
    code = (
        "from brainscan.runtime.litert_runtime import LiteRTRunner;"
        "from brainscan.config import models_dir;"
        "LiteRTRunner(models_dir() / 'segmenter_unet.tflite', num_threads=1)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr
