"""Whether a C loop of the verifiers (``_typed_loop``, ``_split_loop``) may be used: built, and
not older than the C sources beside it.

The C loops are built when ackguard is installed. In a checkout, a pull that changes a ``.c``
or ``.h`` file without installing again would leave the old build in place, running other
steps than the Python loops it must match; such a build is not used (the Python loops run,
which give the same verdicts, slower) and a warning names the files and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

__all__ = ["usable"]


def usable(module: ModuleType | None) -> bool:
    """``module`` was built (not ``None``) and no C source beside it is newer than it."""
    if module is None:
        return False
    built = Path(module.__file__ or "")
    newer = stale_sources(built)
    if newer:
        warnings.warn(
            f"{built.name} is older than {', '.join(newer)}: the verifiers run their Python "
            "loops (the same verdicts, slower); install ackguard again to rebuild it "
            "(pip install -e .)",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


def stale_sources(built: Path) -> list[str]:
    """The C sources beside ``built`` changed after it was built: any in its folder, since the
    headers are shared (none where there are no sources, as in an installed wheel). An
    install builds every module afresh."""
    try:
        made = built.stat().st_mtime
    except OSError:
        return []
    return sorted(
        source.name
        for pattern in ("_*.c", "_*.h")
        for source in built.parent.glob(pattern)
        if source.stat().st_mtime > made
    )
