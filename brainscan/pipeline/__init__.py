"""Analysis pipeline: pure functions from a Volume and models to results; no Qt, no TensorFlow imports."""
