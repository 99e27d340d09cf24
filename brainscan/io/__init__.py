"""MRI series input: ``scan`` reads headers only, ``load`` reads pixels into a ``Volume``."""

from brainscan.io.load import load
from brainscan.io.scan import scan

__all__ = ["scan", "load"]
