"""Where Dask and Arrow come from is said for the install the user has (the desktop app cannot pip install)."""

import sys

from brainscan.batch_cli import batch_extra_hint


def test_a_python_install_is_told_the_extra(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert batch_extra_hint() == "pip install -e '.[batch]'"


def test_the_desktop_app_says_it_does_not_include_them(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert batch_extra_hint().startswith("the desktop app does not include it")
