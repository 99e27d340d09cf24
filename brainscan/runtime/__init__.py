"""Runtime: what runs the shipped models in the app and `brainscan analyze`.

Model cards and their SHA-256 checks, loading, preprocessing, batching, calibration, the decision rule,
Grad-CAM, and the LiteRT and Keras runners. Never imports ``brainscan.training``; TensorFlow only inside the
Keras runners' functions, so ``import brainscan.runtime`` stays fast, Qt-free and TensorFlow-free.
"""
