"""Where DICOM objects go: ``Destination`` (called AE title, host, port) and its ``AET@HOST:PORT`` notation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brainscan.errors import PacsError

DEFAULT_CALLING_AET = "BRAINSCAN"
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-_]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Destination:
    """A DICOM node: the PACS's AE title, its host name or address, and its port."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


def check_ae_title(value: str, what: str = "AE title") -> str:
    """``value`` stripped, if it is a valid AE title (1-16 characters, no backslash or control characters).

    Raises:
        PacsError: with what is wrong.
    """
    title = (value or "").strip()
    if not title:
        raise PacsError(f"The {what} is empty; ask the PACS administrator for it (e.g. ORTHANC).")
    if len(title) > 16:
        raise PacsError(f"The {what} '{title}' is longer than 16 characters, the DICOM limit.")
    if "\\" in title or any(ord(ch) < 32 or ord(ch) > 126 for ch in title):
        raise PacsError(f"The {what} '{title}' may hold only plain letters, digits, spaces and punctuation.")
    return title


def make_destination(ae_title: str, host: str, port: int | str) -> Destination:
    """A checked Destination from its three parts (settings dialog, command line).

    Raises:
        PacsError: for an invalid AE title, host or port, saying which and why.
    """
    title = check_ae_title(ae_title, "PACS AE title")
    host = (host or "").strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not (_HOST.match(host) or ":" in host):
        raise PacsError(f"'{host}' is not a host name or IP address.")
    try:
        number = int(str(port).strip())
    except ValueError as exc:
        raise PacsError(f"The port '{port}' is not a number (DICOM uses 104 or 11112).") from exc
    if not 1 <= number <= 65535:
        raise PacsError(f"The port {number} is outside 1-65535.")
    return Destination(title, host, number)


def parse_destination(text: str) -> Destination:
    """``AET@HOST:PORT`` (an IPv6 host in brackets: ``PACS@[::1]:104``) as a Destination.

    Raises:
        PacsError: when the text does not have that form, or a part is invalid.
    """
    text = (text or "").strip()
    title, at, rest = text.rpartition("@")
    host, colon, port = rest.rpartition(":")
    if not at or not colon:
        raise PacsError(f"'{text}' is not a DICOM destination; write it as AET@HOST:PORT, e.g. ORTHANC@pacs:4242.")
    return make_destination(title, host, port)
