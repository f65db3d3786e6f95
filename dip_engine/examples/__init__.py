"""Example frames shipped with xray-heal.

``liu2017_example_1.npz``: a real SAXS frame with its mask and beam centre
from J. Liu et al., "Deep learning to heal X-ray scattering images" /
healing_scattering_image (IUCrJ 2017), BSD-3-Clause; its copyright notice
and licence are in ``LICENSE-liu2017_example_1.txt`` beside it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXAMPLE_NAME = "liu2017_example_1.npz"


def example_path() -> Path:
    """Path of the bundled example frame."""
    return Path(str(resources.files(__name__) / EXAMPLE_NAME))
