"""The interrupt guard with real signals sent to this process."""

from __future__ import annotations

import os
import signal

import pytest

from engine.run.interrupt import EXIT_INTERRUPTED, InterruptGuard, RunInterrupted


def test_first_signal_requests_a_stop_and_cancels_the_running_jobs():
    cancelled, exits, requests = [], [], []
    previous = signal.getsignal(signal.SIGINT)
    with InterruptGuard(cancel=lambda: cancelled.append(1), on_request=requests.append,
                        hard_exit=exits.append) as guard:
        guard.check()  # nothing asked yet
        os.kill(os.getpid(), signal.SIGINT)
        assert guard.requested and guard.signal_name == "SIGINT"
        assert cancelled == [1] and requests == ["SIGINT"] and exits == []
        with pytest.raises(RunInterrupted, match="interrupted by SIGINT") as info:
            guard.check()
        assert info.value.exit_code == EXIT_INTERRUPTED and not info.value.transient
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal, of either kind, exits at once
        assert exits == [EXIT_INTERRUPTED] and cancelled == [1]
    assert signal.getsignal(signal.SIGINT) is previous  # restored


def test_sigterm_alone_is_a_stop_request_and_a_failing_cancel_does_not_break_it():
    def broken() -> None:
        raise RuntimeError("gateway gone")

    with InterruptGuard(cancel=broken, hard_exit=lambda code: None) as guard:
        os.kill(os.getpid(), signal.SIGTERM)
        assert guard.signal_name == "SIGTERM"
