"""BrainScan: brain MRI decision support (tumour classification and segmentation).

Importing the package is cheap on purpose: TensorFlow and Qt load only where they are used.
"""

__version__ = "0.1.0"
