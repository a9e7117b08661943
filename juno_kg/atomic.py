"""Writing so that nobody ever sees half a file: the new bytes go to a hidden temporary
beside the target (``.{name}.tmp-PID``), which then replaces it in one rename.

A leaf of the package. ``juno-kg export -o``, ``juno-kg links resolve`` (the mapping table)
and a build's folder swap (:func:`juno_kg.write.write_files`) all name their temporaries
here, so that the next build recognises and removes what a killed process left.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import JunoKGError


def temp_path(target: Path, kind: str = "tmp") -> Path:
    """The hidden temporary (``kind`` ``tmp``) or moved-aside (``old``) path of ``target``
    for this process."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}"


def replace_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically: the whole new file, or the old one as it was
    (also on Ctrl-C). A failure to write is a :class:`JunoKGError` naming ``target``."""
    tmp = temp_path(target)
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise JunoKGError(f"could not write it: {exc.strerror or exc}",
                              path=target) from None
        raise
