"""Draw docs/open-from-pacs.png: File > Open from PACS against a real Orthanc (synthetic phantom series).

QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tools/open_from_pacs_screenshot.py
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "open-from-pacs.png"
os.environ["BRAINSCAN_HOME"] = tempfile.mkdtemp()

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from brainscan.pacs import send_files  # noqa: E402
from brainscan.ui.pacs_open_dialog import OpenFromPacsDialog  # noqa: E402
from tests.dicom_factory import write_phantom_series  # noqa: E402
from tests.pacs.orthanc import running_orthanc  # noqa: E402
from tests.pacs_server import free_port  # noqa: E402

tmp = Path(tempfile.mkdtemp())
write_phantom_series(tmp / "a", n=12, description="T1 AX post-contrast", patient_name="Doe^Jane")
write_phantom_series(tmp / "b", n=10, lesion_slices=(), description="T2 FLAIR AX", patient_name="Doe^Jane")
write_phantom_series(
    tmp / "c", n=8, patient_name="Doe^John", patient_id="P-017", study_uid="1.2.3.9", study_date="20251112"
)
app = QApplication([])
with running_orthanc(tmp / "o", {"brainscan": ("BRAINSCAN", free_port())}) as o:
    send_files([tmp / "a", tmp / "b", tmp / "c"], o.destination, timeout=20)
    s = QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)
    s.setValue("pacs/ae_title", "ORTHANC")
    s.setValue("pacs/host", "127.0.0.1")
    s.setValue("pacs/port", o.dicom_port)
    d = OpenFromPacsDialog(s)
    d.show()
    d.patient_name.setText("doe")

    def wait(kind):
        box = []
        d.finished_task.connect(lambda k, ok, m: box.append((k, ok, m)))
        t = time.monotonic()
        while not box and time.monotonic() - t < 20:
            app.processEvents()
            time.sleep(0.02)
        return box

    d.search()
    print(wait("search"))
    d.study_table.selectRow(0)
    print(wait("series"))
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    d.grab().save(str(OUT))
    d.open_button.click()
    print(wait("retrieve"))
    print("done")
