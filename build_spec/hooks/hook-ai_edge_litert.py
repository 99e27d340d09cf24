"""ai_edge_litert: collect the runtime library it loads with ctypes at import (libLiteRt), nothing else.

BrainScan uses only ``ai_edge_litert.interpreter`` on the CPU: the GPU accelerator (libLiteRtWebGpuAccelerator,
19 MB), the ahead-of-time compiler, vendor plugins and tools are not collected.
"""

from pathlib import Path

from PyInstaller.utils.hooks import get_module_file_attribute

_pkg = Path(get_module_file_attribute("ai_edge_litert")).parent
binaries = [
    (str(p), "ai_edge_litert")
    for p in _pkg.iterdir()
    if p.name.split(".")[0] in ("libLiteRt", "LiteRt") and p.suffix in (".so", ".dylib", ".dll")
]
hiddenimports = ["ai_edge_litert.interpreter", "ai_edge_litert.metrics_portable"]
excludedimports = ["ai_edge_litert.aot", "ai_edge_litert.tools", "ai_edge_litert.vendors"]
