"""Session: what the main window knows about the open study and the background work, without Qt.

The window (brainscan.ui.main_window) asks it what to do and tells it what happened; it draws the views and
talks to the worker. Keeping the decisions here makes them testable without a display: which model state we
are in, whether a job runs, whether a worker signal belongs to the series on screen, when a queued analysis
may start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOADING, READY, FAILED = "loading", "ready", "failed"
"""Model states: loading at start, then ready or failed for the rest of the session."""
OPEN, ANALYZE = "open", "analyze"
"""Jobs the worker may be running (``busy``); None when idle."""

START, WAIT, REFUSE, BUSY = "start", "wait", "refuse", "busy"
"""Answers of ``request_analysis``."""


@dataclass
class Session:
    """The open study, its result, the model state and the job in flight (one at a time)."""

    models: str = LOADING
    models_message: str = "Loading the analysis models…"
    busy: str | None = None
    opens_pending: int = 0
    pending_analysis: Any = None  # a Volume to analyse once the models are ready
    reopen_record: Any = None  # the history record being reopened, until its volume arrives
    volume: Any = None
    result: Any = None
    follow_up: Any = None
    placed_for: Any = None  # the volume whose key slice the preliminary verdict already went to
    placed_at: int | None = None  # the slice the window went to by itself, for the analysis in flight
    key_slices: tuple[int, ...] = ()  # the preliminary verdict's key slices, most suspicious first
    outlined: set[int] = field(default_factory=set)  # slices outlined so far by the analysis in flight

    # ---- opening -------------------------------------------------------------------------------------------
    def begin_open(self, record=None) -> bool:
        """A new open request; True when a running analysis must be cancelled for it."""
        cancel = self.busy == ANALYZE
        self.pending_analysis = None
        self.reopen_record = record
        self.busy = OPEN
        self.opens_pending += 1
        return cancel

    def open_done(self) -> bool:
        """End of one open request; False when a newer one is still pending (this answer is stale)."""
        self.opens_pending = max(0, self.opens_pending - 1)
        if self.opens_pending:
            return False
        self.busy = None
        return True

    def superseded(self) -> bool:
        """Whether a newer open request is queued behind the one answering now."""
        return self.opens_pending > 1

    def show_volume(self, volume):
        """The volume on screen is now ``volume`` (no result yet); returns the history record being reopened."""
        record, self.reopen_record = self.reopen_record, None
        self.volume, self.result = volume, None
        return record

    def forget_volume(self) -> None:
        """No images on screen (a stored result whose images are gone)."""
        self.volume = self.result = None

    # ---- analysis ------------------------------------------------------------------------------------------
    def request_analysis(self, volume) -> str:
        """START (call ``begin_analysis``), WAIT (queued until the models are ready), REFUSE (no models) or
        BUSY (nothing to analyse, or a job runs)."""
        if volume is None or self.busy is not None:
            return BUSY
        if self.models == READY:
            return START
        if self.models == LOADING:
            self.pending_analysis = volume
            return WAIT
        self.pending_analysis = None
        return REFUSE

    def begin_analysis(self) -> None:
        self.busy = ANALYZE

    def current(self, volume) -> bool:
        """Whether an analysis signal about ``volume`` belongs to the analysis running for the series shown."""
        return self.busy == ANALYZE and volume is self.volume

    def finish_analysis(self, result, follow_up=None) -> None:
        self.busy = None
        self.result, self.follow_up = result, follow_up

    def job_done(self) -> None:
        self.busy = None

    # ---- where the view goes -------------------------------------------------------------------------------
    def place(self, volume, key_slices) -> int | None:
        """The preliminary verdict arrived: the slice to show (its first key slice, outlined first), or None."""
        self.placed_for, self.key_slices, self.outlined = volume, tuple(key_slices), set()
        self.placed_at = self.key_slices[0] if self.key_slices else None
        return self.placed_at

    def outlines_landed(self, indices, shown: int) -> int | None:
        """Outlines of ``indices`` arrived while slice ``shown`` is on screen: the slice to move to, or None.

        The view moves only while it still sits where the window put it (the user has not moved on) and that
        slice got no outline: then to the first key slice that has one (a key slice the segmenter found nothing
        on is the wrong picture to lead with)."""
        self.outlined.update(int(i) for i in indices)
        if self.placed_at is None or shown != self.placed_at or shown in self.outlined:
            return None
        target = landing_slice(self.key_slices, self.outlined)
        if target is None or target == shown:
            return None
        self.placed_at = target
        return target

    # ---- models --------------------------------------------------------------------------------------------
    def models_ready(self, message: str):
        """The models loaded; returns the queued volume to analyse now, or None."""
        self.models, self.models_message = READY, message
        volume, self.pending_analysis = self.pending_analysis, None
        return volume if volume is not None and volume is self.volume and self.busy is None else None

    def models_failed(self, message: str) -> bool:
        """The models failed to load; True when a queued analysis was dropped because of it."""
        self.models, self.models_message = FAILED, message
        dropped, self.pending_analysis = self.pending_analysis is not None, None
        return dropped

    # ---- what the menus allow ------------------------------------------------------------------------------
    @property
    def can_analyze(self) -> bool:
        return self.models == READY and self.volume is not None and self.busy is None

    @property
    def can_cancel(self) -> bool:
        return self.busy == ANALYZE

    @property
    def can_export(self) -> bool:
        return self.result is not None and self.busy is None


def landing_slice(key_slices, outlined) -> int | None:
    """The slice a finished analysis shows first: the first key slice with an outline, else the first key slice
    (None without key slices)."""
    keys = list(key_slices)
    return next((k for k in keys if k in outlined), keys[0] if keys else None)
