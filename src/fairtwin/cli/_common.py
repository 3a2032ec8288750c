"""What the CLI's commands share: the progress switch and the crash report of a bug."""

from __future__ import annotations

import os
import sys

from fairtwin import __version__


def tty() -> bool:
    """Progress bars only on a terminal; a log file gets one line per stage."""
    return sys.stderr.isatty()


def write_crash_report(exc: BaseException, argv: list[str] | None) -> str:
    """Write the traceback of a bug, with the version and the command, to a temporary file;
    returns its path."""
    import tempfile
    import traceback

    args = " ".join(argv if argv is not None else sys.argv[1:])
    text = f"fairtwin {__version__}\ncommand: fairtwin {args}\n\n" + "".join(traceback.format_exception(exc))
    fd, path = tempfile.mkstemp(prefix="fairtwin-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path
