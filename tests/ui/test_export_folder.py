"""Issue 27 item 6: Export PDF / Export DICOM start in the user's Documents folder, not the source images' folder
(often read-only media or a PACS cache), and then in the folder last exported to."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QFileDialog

from tests.ui.test_main_window import analyse


@pytest.fixture
def documents(tmp_path, monkeypatch):
    home = tmp_path / "user"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # no user-dirs.dirs: Documents is ~/Documents
    return home / "Documents"


@pytest.mark.skipif(os.name != "posix", reason="Documents found through HOME")
def test_exports_start_in_documents_then_remember_the_last_folder(
    qtbot, make_window, phantom, tmp_path, monkeypatch, documents, shown_errors
):
    import brainscan.reports

    offered = []
    out = tmp_path / "reports"
    out.mkdir()
    monkeypatch.setattr(brainscan.reports, "write_pdf", lambda *a, **k: None)

    def save_dialog(parent, title, default, *rest, **kwargs):
        offered.append(("pdf", default))
        return str(out / "r.pdf"), "PDF (*.pdf)"

    def folder_dialog(parent, title, default, *rest, **kwargs):
        offered.append(("dicom", default))
        return ""  # cancelled

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder_dialog)
    window = make_window()
    analyse(qtbot, window, phantom)
    window.export_dicom()
    window.export_pdf()
    window.export_pdf()
    window.export_dicom()
    assert offered[0] == ("dicom", str(documents))
    assert offered[1][0] == "pdf" and os.path.dirname(offered[1][1]) == str(documents)
    assert os.path.dirname(offered[2][1]) == str(out)  # remembered after the first export
    assert offered[3] == ("dicom", str(out))
    assert str(phantom) not in "".join(d for _, d in offered)
    assert not shown_errors
