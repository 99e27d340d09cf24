"""Models: specs, loading with SHA-256 checks, preprocessing, calibration, Grad-CAM.

This is the only package that imports TensorFlow, and only inside the functions that need it, so
``import brainscan.models`` stays fast and Qt-free.
"""
