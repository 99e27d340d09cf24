"""ViewControls: the row above the slice view (outline opacity, outline and heat map toggles, window presets)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from brainscan.ui.slice_view import PRESETS, SliceView


class ViewControls(QWidget):
    """Two-way bound to a SliceView: the controls follow the M/H keys and vice versa."""

    def __init__(self, view: SliceView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.mask = QCheckBox("Outline (M)")
        self.mask.setToolTip("Show the tumour outline and fill (M)")
        self.heat = QCheckBox("Heat map (H)")
        self.heat.setToolTip("Show where the classifier looked (Grad-CAM, key slices only) (H)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setMaximumWidth(140)
        self.opacity.setToolTip("Opacity of the tumour fill")
        self.opacity_label = QLabel()
        self.preset = QComboBox()
        self.preset.addItem("Window…", "")
        for key, text in PRESETS.items():
            self.preset.addItem(text, key)
        self.preset.setToolTip("Window presets (keys 1, 2, 3); right-drag on the image to adjust")
        self.reset = QPushButton("Reset view")
        self.reset.setToolTip("Default window, fit to the window, no pan (R)")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mask)
        layout.addWidget(QLabel("Opacity"))
        layout.addWidget(self.opacity)
        layout.addWidget(self.opacity_label)
        layout.addWidget(self.heat)
        layout.addStretch(1)
        layout.addWidget(self.preset)
        layout.addWidget(self.reset)

        self.sync()
        self.mask.toggled.connect(view.set_mask_visible)
        self.heat.toggled.connect(view.set_heat_visible)
        self.opacity.valueChanged.connect(lambda value: view.set_opacity(value / 100.0))
        self.preset.activated.connect(self._apply_preset)
        self.reset.clicked.connect(view.reset_view)
        view.overlays_changed.connect(self.sync)

    def sync(self) -> None:
        for widget, value in ((self.mask, self.view.mask_visible()), (self.heat, self.view.heat_visible())):
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(round(self.view.opacity() * 100))
        self.opacity.blockSignals(False)
        self.opacity_label.setText(f"{round(self.view.opacity() * 100)}%")

    def _apply_preset(self, row: int) -> None:
        key = self.preset.itemData(row)
        if key:
            self.view.apply_preset(key)
            self.view.setFocus()
        self.preset.setCurrentIndex(0)
