"""`brainscan batch`: the app's analysis over an archive, on one machine or a Dask cluster (docs/batch.md).

A front end beside the window (brainscan.ui): it finds series with the same header-only scan as
`brainscan info` (brainscan.io.scan), hands each to a worker that loads its models once and runs
brainscan.pipeline.analyze exactly as `brainscan analyze` does, and keeps one results table.

- ``discover``: series under the roots or in a list of paths, each with a content key (what resume skips on);
- ``work``: one series in a worker: load, analyse, write its JSON (and PDF, DICOM), return its table row;
- ``table``: the journal (SQLite, one row per finished series, committed as it arrives) and the results table
  (Parquet and CSV, replaced atomically);
- ``engines``: the local process pool (default) and Dask distributed;
- ``runner``: ties them together, with the progress line and the summary.

Neither Qt nor the training code is imported here (import-linter contracts in pyproject.toml); Dask and pyarrow
come with the ``[batch]`` extra and are imported only when used.
"""
