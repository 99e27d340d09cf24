"""Core layers must not pull in Qt or TensorFlow (fast import, headless use, clean layering)."""

from __future__ import annotations

import subprocess
import sys


def test_core_packages_import_without_qt_or_tensorflow():
    code = (
        "import sys\n"
        "import brainscan.io, brainscan.pipeline, brainscan.storage, brainscan.reports, brainscan.runtime\n"
        "import brainscan.runtime.preprocess, brainscan.io.describe\n"
        "import brainscan.followup, brainscan.pacs, brainscan.pacs.client, brainscan.reports.dicom_export\n"
        "bad = [m for m in ('PySide6', 'tensorflow', 'keras') if m in sys.modules]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
