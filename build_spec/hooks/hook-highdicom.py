"""highdicom reads its DICOM standard tables (_standard/*.json) and ICC profile at run time: bundle them."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("highdicom")
