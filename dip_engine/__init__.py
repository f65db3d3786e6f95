"""xray-heal engine: heal missing pixels of X-ray scattering frames.

Numpy arrays in, numpy arrays out; no web framework here. ``heal`` (which
loads torch) lives in :mod:`dip_engine.fit`; this package imports without
torch so the web process can validate frames and masks cheaply.
"""

from .config import PRESETS, FitProgress, HealConfig
from .io import Frame, FrameError, read_frame, read_mask, write_frame

__all__ = [
    "PRESETS",
    "FitProgress",
    "Frame",
    "FrameError",
    "HealConfig",
    "read_frame",
    "read_mask",
    "write_frame",
]

__version__ = "0.1.0"
