"""Write a DICOM MR series for the frozen-app smoke test and benchmark (run with the development venv).

    .venv/bin/python build_spec/make_series.py OUT_FOLDER [--slices 24] [--source auto|phantom|FOLDER]

``--source FOLDER``: the first N PNG/JPEG slices of FOLDER (numeric file order) become one axial series, 0.9 mm
pixels, 6 mm apart. ``auto`` (default) uses the real tumour slices in ``$BRAINSCAN_DATA/segmentation/images``
when that folder exists (consecutive figshare numbers mostly come from one patient, so the classifier and the
segmenter both have work to do), else ``phantom``: the synthetic head of tests/dicom_factory.py at 256x256
(an ellipse with a bright disc on the middle third of the slices). Either way the files are written with
pydicom, with a made-up patient name, in shuffled file order; nothing is copied into the repository.
Prints one JSON line describing what was written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom.uid import generate_uid  # noqa: E402

from tests.dicom_factory import make_dataset, phantom_slices  # noqa: E402


def image_slices(folder: Path, n: int) -> tuple[np.ndarray, list[str]]:
    from PIL import Image

    files = [p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    files.sort(key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])
    if len(files) < n:
        raise SystemExit(f"{folder} holds {len(files)} images, {n} needed")
    chosen = files[:n]
    images = [np.asarray(Image.open(p).convert("L")) for p in chosen]
    shape = images[0].shape
    images = [im if im.shape == shape else np.asarray(Image.fromarray(im).resize(shape[::-1])) for im in images]
    return np.stack(images).astype(np.uint16) * 4, [p.name for p in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--slices", type=int, default=24)
    parser.add_argument("--source", default="auto", help="auto, phantom, or a folder of PNG/JPEG slices")
    args = parser.parse_args(argv)

    source = args.source
    if source == "auto":
        from brainscan.config import data_dir

        images = data_dir() / "segmentation" / "images"
        source = str(images) if images.is_dir() else "phantom"
    if source == "phantom":
        third = args.slices // 3
        pixels = phantom_slices(args.slices, (256, 256), tuple(range(third, 2 * third)), radius=20)
        names, spacing, gap, description = [], (0.9, 0.9), 6.0, "SMOKE PHANTOM"
    else:
        pixels, names = image_slices(Path(source), args.slices)
        spacing, gap, description = (0.9, 0.9), 6.0, "SMOKE T1 AX"

    args.out.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    order = np.random.default_rng(7).permutation(args.slices)
    for k in range(args.slices):
        ds = make_dataset(
            pixels[k],
            series_uid=uid,
            position=(-115.0, -115.0, gap * k),
            instance=k + 1,
            spacing=spacing,
            description=description,
            patient_name="Smoke^Test",
        )
        ds.save_as(args.out / f"IM{order[k]:04d}.dcm", enforce_file_format=True)
    print(
        json.dumps(
            {
                "folder": str(args.out),
                "slices": args.slices,
                "shape": list(pixels.shape[1:]),
                "source": source,
                "images": names[:3] + (["..."] if len(names) > 3 else []),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
