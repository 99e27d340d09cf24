"""The Keras/TensorFlow runner: the networks' architectures, float16 weights, Grad-CAM by gradient tape.

Optional: the app runs LiteRT and loads this only when a model has no LiteRT file or ``BRAINSCAN_RUNTIME=keras``
asks for it (brainscan.runtime.loading). The only part of the runtime that imports TensorFlow, always inside
functions; training builds its networks from here too.
"""
