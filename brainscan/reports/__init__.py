"""PDF reports (see brainscan.reports.pdf)."""
