"""Run a command that stops when the process that started it dies:
``python -m tracker.launch COMMAND [ARGS...]``.

The ``Procfile``'s processes are started by honcho, each in a session of its
own, so a signal to ``make run``'s process group does not reach them; when
honcho itself is killed (``kill -KILL``, a closed terminal), they would live on,
orphaned, still serving and consuming jobs. This asks the kernel (Linux's
``PR_SET_PDEATHSIG``) to send the command SIGTERM when its parent dies, then
becomes the command.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m tracker.launch COMMAND [ARGS...]")
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the command runs as it would
        pass
    if os.getppid() != parent:  # the parent died before the kernel was asked
        sys.exit(0)
    os.execvp(argv[0], argv)  # noqa: S606 - the command line is the Procfile's


if __name__ == "__main__":
    main(sys.argv[1:])
