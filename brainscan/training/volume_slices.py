"""Classifier training slices cut from whole real volumes, in all three planes, with realistic augmentation.

Why: the Training folder holds hand-picked 2D slices, its "no tumour" class from another source than its
tumours, so the network partly learned where an image came from. Whole volumes add what a clinician actually
drops: every slice of a series (edge slices through ears, neck and vertex included), other planes, sequences
(FLAIR) and scanners, with tumour and tumour-free slices from the same patients.

Labels come from the expert masks (BraTS labels 1 + 4 are the tumour core seen on post-contrast T1):

- glioma: the slice's tumour core covers at least ``MIN_CORE_MM2``;
- no tumour: no label of any kind (core or oedema) within ``CLEAR_MARGIN_MM`` of the slice;
- anything in between is ambiguous and left out.
Every slice of a normal volunteer's series is "no tumour".

Split by volume, never by slice: ``HELD_OUT`` volumes only ever go to the validation pack.

``brainscan train classifier-pack --out FILE`` writes one .npz (images float16 at the classifier size,
labels, source, plane, split), which ``brainscan train classifier --volume-pack FILE`` mixes with Training.
"""

from __future__ import annotations

import argparse
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.io.nifti import PLANES, _open, canonical_array, display_slices, to_canonical
from brainscan.runtime.preprocess import CLASSIFIER_SIZE, preprocess_gray
from brainscan.types import CLASS_NAMES, NO_TUMOUR

log = logging.getLogger(__name__)

GLIOMA = CLASS_NAMES.index("glioma")
NOTUMOR = CLASS_NAMES.index(NO_TUMOUR)
MIN_CORE_MM2 = 100.0
CLEAR_MARGIN_MM = 10.0
HELD_OUT = (
    "Brats18_2013_20_1",
    "Brats18_CBICA_AME_1",
    "Brats18_TCIA01_499_1",
    "Brats18_TCIA10_628_1",
    "philips_elition_3d_mprage_sag",
)
"""Volumes kept out of training to measure on: four BraTS cases (one low grade, one with FLAIR) and the
Philips 3D normal series (a vendor the training volumes lack)."""
MNI_MEMBER = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


@dataclass
class SourceVolume:
    """One volume in canonical RAS+ orientation, with its labels (None: a normal volunteer)."""

    name: str
    ras: np.ndarray
    zooms: np.ndarray
    labels: np.ndarray | None
    sequence: str


def dicom_to_ras(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load a DICOM series with BrainScan's own reader and place it in RAS+ (for re-slicing in other planes)."""
    import nibabel.orientations as nio

    from brainscan.io import load, scan

    volume = load(scan([folder])[0])
    if volume.orientation is None or volume.positions_mm is None or volume.pixel_spacing_mm is None:
        raise ValueError(f"{folder} has no usable geometry")
    row_cos = np.asarray(volume.orientation[:3])  # direction of increasing column index
    col_cos = np.asarray(volume.orientation[3:])  # direction of increasing row index
    row_mm, col_mm = volume.pixel_spacing_mm
    step = volume.positions_mm[1] - volume.positions_mm[0] if volume.n_slices > 1 else np.cross(row_cos, col_cos)
    lps = np.eye(4)
    lps[:3, 0] = row_cos * col_mm
    lps[:3, 1] = col_cos * row_mm
    lps[:3, 2] = step
    lps[:3, 3] = volume.positions_mm[0]
    ras_affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    data = np.transpose(volume.pixels, (2, 1, 0))  # (column, row, slice)
    ornt = nio.io_orientation(ras_affine)
    zooms = np.sqrt((ras_affine[:3, :3] ** 2).sum(axis=0))
    zooms_ras = np.asarray(to_canonical(ornt, zooms), dtype=np.float64)
    return nio.apply_orientation(data, ornt).astype(np.float32), zooms_ras


def nifti_to_ras(path: Path) -> tuple[np.ndarray, np.ndarray]:
    ras, zooms, _ = canonical_array(_open(path), path)
    return ras, zooms


def find_mni_template(explicit: Path | None) -> Path | None:
    """nilearn's MNI152 T1 template: an explicit .nii.gz, or the member of a nilearn wheel / installed nilearn."""
    if explicit is not None:
        return explicit
    try:
        import nilearn  # noqa: F401

        path = Path(nilearn.__file__).parent / "datasets" / "data" / Path(MNI_MEMBER).name
        return path if path.is_file() else None
    except ImportError:
        return None


def read_mni(path: Path, scratch: Path) -> Path:
    """A .whl is a zip: take the template out of it (into ``scratch``, never into the project)."""
    if path.suffix == ".whl":
        scratch.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as wheel:
            target = scratch / Path(MNI_MEMBER).name
            target.write_bytes(wheel.read(MNI_MEMBER))
        return target
    return path


def collect_sources(data: Path, mni: Path | None, scratch: Path) -> list[SourceVolume]:
    """Every volume under ``data/volumes`` (and SAG-anon, and the MNI template when found)."""
    sources: list[SourceVolume] = []
    brats = data / "volumes" / "tumour" / "brats2018"
    for case in sorted(p for p in brats.iterdir() if p.is_dir()):
        labels, _ = nifti_to_ras(case / "seg.nii.gz")
        for sequence in ("t1ce", "flair"):
            file = case / f"{sequence}.nii.gz"
            if file.is_file():
                ras, zooms = nifti_to_ras(file)
                sources.append(SourceVolume(case.name, ras, zooms, np.rint(labels).astype(np.int16), sequence))
    normals = sorted(p for p in (data / "volumes" / "normal").iterdir() if p.is_dir())
    normals.append(data / "dicom" / "SAG-anon_siemens_skyra_mprage")
    for folder in normals:
        if folder.is_dir():
            ras, zooms = dicom_to_ras(folder)
            sources.append(SourceVolume(folder.name, ras, zooms, None, "t1"))
    if mni is not None:
        ras, zooms = nifti_to_ras(read_mni(mni, scratch))
        sources.append(SourceVolume("mni152_template", ras, zooms, None, "t1"))
    return sources


def usable_planes(zooms: np.ndarray) -> list[int]:
    """Planes whose in-plane pixels are not stretched more than 2:1 (a thick 2D series: its own plane only)."""
    planes = []
    for axis in range(3):
        in_plane = [zooms[a] for a in range(3) if a != axis]
        if max(in_plane) <= 2.0 * min(in_plane):
            planes.append(axis)
    return planes


def slice_labels(labels: np.ndarray | None, axis: int, zooms: np.ndarray) -> np.ndarray:
    """Per-slice class across ``axis``: GLIOMA, NOTUMOR, or -1 (ambiguous, left out)."""
    n = labels.shape[axis] if labels is not None else 0
    if labels is None:
        return np.array([], dtype=np.int64)
    other = tuple(a for a in range(3) if a != axis)
    pixel_mm2 = float(np.prod([zooms[a] for a in other]))
    core = np.isin(labels, (1, 4)).sum(axis=other) * pixel_mm2
    any_label = (labels > 0).sum(axis=other) > 0
    margin = int(np.ceil(CLEAR_MARGIN_MM / zooms[axis]))
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        window = any_label[max(0, i - margin) : i + margin + 1]
        if core[i] >= MIN_CORE_MM2:
            out[i] = GLIOMA
        elif not window.any():
            out[i] = NOTUMOR
    return out


# ------------------------------------------------------------------ augmentation


def bias_field(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth multiplicative intensity field (coil shading): exp of a bicubic-upsampled 4x4 random grid."""
    grid = rng.normal(0.0, strength, size=(4, 4)).astype(np.float32)
    field = Image.fromarray(grid, mode="F").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.exp(np.asarray(field, dtype=np.float32))


def resample_axis(x: np.ndarray, axis: int, factor: float) -> np.ndarray:
    """Down-sample one axis by ``factor`` (area) and back up (bilinear): thick slices, low-resolution scans."""
    rows, cols = x.shape
    small = (max(2, int(cols / factor)), rows) if axis == 1 else (cols, max(2, int(rows / factor)))
    img = Image.fromarray(x.astype(np.float32), mode="F")
    return np.asarray(img.resize(small, Image.Resampling.BOX).resize((cols, rows), Image.Resampling.BILINEAR))


def realistic_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scanner-like changes of one raw slice: field-of-view crop or pad, bias field, gamma, blur, resampling,
    Rician noise. Geometry (flip, rotation, zoom, shift) and contrast are added later, online, as for Training."""
    return realistic_augment_pair(x, None, rng)[0]


def realistic_augment_pair(
    x: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """``realistic_augment`` of a slice and its tumour mask: the field-of-view change moves both, the intensity
    changes touch the slice only (same random draws as the slice alone)."""
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, dtype=np.float32)
    scale = float(np.percentile(x, 99.5)) or 1.0
    x = np.clip(x / scale, 0.0, None)
    rows, cols = x.shape
    if rng.random() < 0.5:  # crop: a tighter field of view
        keep_r, keep_c = rng.uniform(0.7, 1.0, size=2)
        h, w = max(8, int(rows * keep_r)), max(8, int(cols * keep_c))
        top, left = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
        x = x[top : top + h, left : left + w]
        mask = None if mask is None else mask[top : top + h, left : left + w]
    elif rng.random() < 0.3:  # pad: a wider field of view
        pad_r, pad_c = (int(s * rng.uniform(0.0, 0.25)) for s in x.shape)
        x = np.pad(x, ((pad_r, pad_r), (pad_c, pad_c)))
        mask = None if mask is None else np.pad(mask, ((pad_r, pad_r), (pad_c, pad_c)))
    if rng.random() < 0.7:
        x = x * bias_field(x.shape, rng, rng.uniform(0.1, 0.35))
    if rng.random() < 0.8:
        x = x ** float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
    if rng.random() < 0.3:
        x = gaussian_filter(x, rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        x = resample_axis(x, int(rng.integers(0, 2)), rng.uniform(1.5, 4.0))
    if rng.random() < 0.5:
        sigma = rng.uniform(0.01, 0.06)
        x = np.sqrt((x + rng.normal(0, sigma, x.shape)) ** 2 + rng.normal(0, sigma, x.shape) ** 2)
    return x.astype(np.float32), mask


# ------------------------------------------------------------------ the pack


def has_content(x: np.ndarray) -> bool:
    """At least 1 % of the slice above a tenth of its 99th percentile (skips empty slices outside the head)."""
    high = float(np.percentile(x, 99.0))
    return high > 0 and float((x > 0.1 * high).mean()) >= 0.01


def build_pack(
    sources: list[SourceVolume], seed: int, stride: int = 2, variants: int = 2, held_out: tuple[str, ...] = HELD_OUT
) -> dict:
    """Cut, label, augment and preprocess slices; returns arrays ready for ``np.savez``."""
    rng = np.random.default_rng(seed)
    images, labels, names, planes, index, split, augmented = [], [], [], [], [], [], []
    for source in sources:
        held = source.name in held_out
        for axis in usable_planes(source.zooms):
            slices = display_slices(source.ras, axis)
            classes = (
                slice_labels(source.labels, axis, source.zooms)
                if source.labels is not None
                else np.full(len(slices), NOTUMOR)
            )
            thick = source.zooms[axis] > 2.0
            step = 1 if thick else (stride + 1 if held else stride)
            copies = 1 if held else (variants + 1 if source.labels is None else variants)
            for i in range(0, len(slices), step):
                if classes[i] < 0 or not has_content(slices[i]):
                    continue
                for copy in range(copies):
                    raw = slices[i] if copy == 0 else realistic_augment(slices[i], rng)
                    images.append(preprocess_gray(raw, CLASSIFIER_SIZE).astype(np.float16))
                    labels.append(int(classes[i]))
                    names.append(f"{source.name}/{source.sequence}")
                    planes.append(PLANES[axis])
                    index.append(i)
                    split.append("val" if held else "train")
                    augmented.append(copy > 0)
        log.info("%s/%s: %d slices so far", source.name, source.sequence, len(images))
    return {
        "images": np.stack(images),
        "labels": np.asarray(labels, dtype=np.int64),
        "source": np.asarray(names),
        "plane": np.asarray(planes),
        "slice_index": np.asarray(index, dtype=np.int64),
        "split": np.asarray(split),
        "augmented": np.asarray(augmented),
    }


def pack_summary(pack: dict, held_out: tuple[str, ...] = HELD_OUT) -> dict:
    """Counts per split, class and source, for the log and the model card."""
    out: dict = {"held_out": list(held_out), "min_core_mm2": MIN_CORE_MM2, "clear_margin_mm": CLEAR_MARGIN_MM}
    for part in ("train", "val"):
        chosen = pack["split"] == part
        out[part] = {
            "images": int(chosen.sum()),
            "by_class": {CLASS_NAMES[c]: int((pack["labels"][chosen] == c).sum()) for c in (GLIOMA, NOTUMOR)},
            "sources": sorted(set(pack["source"][chosen].tolist())),
        }
    return out


def add_pack_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir

    parser.add_argument("--data", type=Path, default=data_dir(), help="the shared data root (holds volumes/)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz pack to write")
    parser.add_argument("--mni", type=Path, default=None, help="MNI152 template .nii.gz or a nilearn wheel")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--variants", type=int, default=2, help="copies per training slice (first unaugmented)")
    parser.add_argument(
        "--held-out", nargs="+", default=list(HELD_OUT), metavar="VOLUME",
        help="volume (case or series folder) names kept out of training (default: HELD_OUT)",
    )  # fmt: skip


def write_pack(args: argparse.Namespace) -> Path:
    """``brainscan train classifier-pack``: build the volume pack and its summary JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out: Path = args.out
    sources = collect_sources(args.data, find_mni_template(args.mni), out.parent / "mni")
    held_out = tuple(getattr(args, "held_out", HELD_OUT))
    unknown = sorted(set(held_out) - {source.name for source in sources})
    if unknown:
        raise SystemExit(f"error: --held-out names no volume that was found: {', '.join(unknown)}")
    pack = build_pack(sources, args.seed, args.stride, args.variants, held_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **pack)
    summary = pack_summary(pack, held_out)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    log.info("wrote %s: %s", out, json.dumps(summary))
    return out
