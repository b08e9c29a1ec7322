"""Graceful stop under systemd.

On SIGTERM uvicorn stops accepting connections, lets the requests in flight finish (up to
`timeout_graceful_shutdown`), then runs the application's shutdown hook (`crm_app.web`): the scheduler
waits for its running job, the events listener stops, the database pools close. Uvicorn then raises the
signal again with the previous handler; the one installed here turns it into a normal exit (status 0)
instead of a death by signal, so that `systemctl stop` and the tests see a clean end.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

#: uvicorn's timeout for the requests in flight (crm_app.web.run); systemd's TimeoutStopSec must be
#: above this plus the longest step a running job takes.
GRACEFUL_REQUESTS_SECONDS = 20


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def exit_zero_after_graceful_stop() -> None:
    """Install before starting the server (main thread only)."""
    signal.signal(signal.SIGTERM, _exit_zero)
