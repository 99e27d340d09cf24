"""Reading one DICOM file, for the scan (header) and the load (pixels), with reasons a user can act on.

What it adds to ``pydicom.dcmread``:

- regular files only, opened without blocking (brainscan.io.files);
- a DICOM dataset stored without the 128-byte preamble and 'DICM' prefix (older exports) is read when its first
  bytes are a DICOM element, rather than reported as "not a DICOM file";
- a deflated file is measured before pydicom inflates it whole, and refused above ``MAX_INFLATED_BYTES``;
- header numbers (Rows, NumberOfFrames, BitsAllocated, ...) are checked, so a malformed value is a reason
  ("Rows is not a whole number"), not a TypeError deep in the scan;
- for uncompressed pixel data, the byte count the header implies is compared with the data before decoding:
  a BitsAllocated that does not match the data once turned one slice into 64 garbage slices.

Every failure becomes ``DicomReadError`` whose text names no path (it travels into de-identified output).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from brainscan.io.budget import MAX_INFLATED_BYTES
from brainscan.io.files import open_failure_reason, open_regular

DEFLATED = b"1.2.840.10008.1.2.1.99"
NOT_DICOM = "not a DICOM or image file"
BARE_FIRST_GROUPS = (0x0002, 0x0008)
"""A dataset without preamble begins with its file meta (0002) or identifying (0008) group."""
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
BITS_ALLOCATED = (1, 8, 16, 32, 64)


class DicomReadError(Exception):
    """A DICOM file cannot be used; ``str(exc)`` is the reason, in words, without the file's path."""


def header_int(ds, keyword: str, default: int | None = None) -> int | None:
    """A header value that must be one whole number (Rows, NumberOfFrames, ...); ``default`` when absent.

    Raises:
        DicomReadError: when the value is text, has several values, or is not a whole number.
    """
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        raise DicomReadError(f"damaged DICOM header: {keyword} holds {len(value)} values instead of one")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DicomReadError(f"damaged DICOM header: {keyword} is not a number ({str(value)[:20]!r})") from None
    if number != number or number in (float("inf"), float("-inf")) or number != int(number):
        raise DicomReadError(f"damaged DICOM header: {keyword} is not a whole number ({str(value)[:20]!r})")
    return int(number)


def looks_like_bare_dicom(head: bytes) -> bool:
    """True when ``head`` starts with a DICOM element of group 0002 or 0008 (little or big endian)."""
    if len(head) < 8:
        return False
    little, big = struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]
    return little in BARE_FIRST_GROUPS or big in BARE_FIRST_GROUPS


def _meta_is_deflated(fp, head: bytes) -> bool:
    """Whether the file meta (right after 'DICM') names the deflated transfer syntax."""
    if head[132:136] == b"\x02\x00\x00\x00" and head[136:138] == b"UL":
        length = struct.unpack("<I", head[140:144])[0]
        meta = fp.read(min(length, 1 << 16))
    else:
        meta = fp.read(4096)
    return DEFLATED in meta


def check_inflated_size(fp, limit: int = MAX_INFLATED_BYTES) -> None:
    """Inflate the rest of ``fp`` in chunks, keeping nothing, and refuse it when it expands beyond ``limit``.

    Raises:
        DicomReadError: when the data expands beyond ``limit`` bytes or is not valid deflate data.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while True:
            chunk = fp.read(1 << 20)
            if not chunk:
                break
            data = chunk
            while data and total <= limit:  # at most 1 MB of output at a time, dropped at once
                total += len(inflater.decompress(data, min(1 << 20, limit - total + 1)))
                data = inflater.unconsumed_tail
            if total > limit:
                raise DicomReadError(
                    f"deflated DICOM that expands to more than {limit >> 20} MB; refused without decoding it "
                    "(a damaged or hostile file)"
                )
    except zlib.error:
        raise DicomReadError("damaged DICOM file: its deflate-compressed data is corrupt") from None


def header_failure_reason(exc: BaseException) -> str:
    """Why pydicom could not read a header, in words."""
    if isinstance(exc, RecursionError):
        return "damaged DICOM header: sequences nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "damaged DICOM header: it is too large to read"
    if isinstance(exc, (EOFError, struct.error)):
        return "damaged or truncated DICOM header"
    if isinstance(exc, OSError):
        return open_failure_reason(exc)
    return f"damaged DICOM header ({type(exc).__name__})"


def _give_transfer_syntax(ds) -> None:
    """A dataset read without file meta gets the transfer syntax its encoding was guessed as (for decoding)."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def read_dicom(path: Path, stop_before_pixels: bool = False):
    """Read the DICOM file at ``path`` (header only with ``stop_before_pixels``).

    Raises:
        DicomReadError: when the file is not DICOM, not a regular file, unreadable, damaged or a deflate bomb.
    """
    try:
        with open_regular(path) as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise DicomReadError("empty file (0 bytes)")
            head = fp.read(144)
            part10 = head[128:132] == b"DICM"
            if part10:
                if _meta_is_deflated(fp, head):
                    check_inflated_size(fp)
            elif not looks_like_bare_dicom(head):
                raise DicomReadError(NOT_DICOM)
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=stop_before_pixels, force=not part10)
    except DicomReadError:
        raise
    except InvalidDicomError:
        raise DicomReadError(NOT_DICOM) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a reason for this file only
        raise DicomReadError(header_failure_reason(exc)) from exc
    if not part10:
        if not any(k in ds for k in ("SOPClassUID", "Modality", "Rows", "SeriesInstanceUID")):
            raise DicomReadError(NOT_DICOM)
        _give_transfer_syntax(ds)
    return ds


def pixel_format_problem(ds) -> str | None:
    """Why the header's pixel description cannot be right (before decoding), or None."""
    bits = header_int(ds, "BitsAllocated", 16)
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return None
    if bits not in BITS_ALLOCATED:
        return f"damaged DICOM header: BitsAllocated is {bits} (expected 1, 8, 16, 32 or 64)"
    stored = header_int(ds, "BitsStored", bits)
    if not 1 <= stored <= bits:
        return f"damaged DICOM header: BitsStored is {stored} with BitsAllocated {bits}"
    samples = header_int(ds, "SamplesPerPixel", 1)
    if samples not in (1, 3):
        return f"unsupported image: {samples} samples per pixel (grey or colour images are read)"
    return None


def pixel_length_problem(ds, rows: int, columns: int, frames: int) -> str | None:
    """For uncompressed pixel data: why its length does not match the header, or None when it does.

    The header implies rows x columns x frames x samples x BitsAllocated bits; the data may carry one pad byte.
    """
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is not None and syntax.is_compressed:
        return None
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        return None
    bits = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}.get(keyword) or header_int(ds, "BitsAllocated", 16)
    samples = header_int(ds, "SamplesPerPixel", 1)
    expected = (rows * columns * frames * samples * bits + 7) // 8
    actual = len(ds[keyword].value or b"")
    if actual in (expected, expected + 1):
        return None
    header = f"{rows} x {columns} pixels x {frames} frame(s) x {samples} sample(s) x {bits} bits = {expected:,} bytes"
    if actual < expected:
        return (
            f"the image data is incomplete, so it could not be decoded: the header describes {header}, the file "
            f"holds {actual:,} (a truncated copy, or a header such as BitsAllocated that does not match the data)"
        )
    return (
        f"the header does not match the image data, so it could not be decoded: the header describes {header}, "
        f"the file holds {actual:,} (BitsAllocated or the image size in the header is wrong)"
    )
