"""Offline work: training, export/conversion (Keras weights, LiteRT) and evaluation.

The app never imports it; ``brainscan train/export/evaluate`` import it lazily. It may use the runtime, never
the other way round.
"""
