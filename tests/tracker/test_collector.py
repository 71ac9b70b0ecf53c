"""Pausing the cycle collector (tracker/collector.py)."""

from __future__ import annotations

import gc
import threading

import pytest

from tracker.collector import cycle_collector_paused


def test_the_collector_runs_again_once_the_last_job_holding_it_paused_ends():
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen = {}

    def second() -> None:
        first_in.wait()
        with cycle_collector_paused():
            seen["during"] = gc.isenabled()
        seen["after_second"] = gc.isenabled()
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with cycle_collector_paused():
        first_in.set()
        second_done.wait()
        still_paused = not gc.isenabled()
    thread.join()

    assert seen == {"during": False, "after_second": False}
    assert still_paused
    assert gc.isenabled()


def test_the_collector_runs_again_when_a_job_fails():
    with pytest.raises(ValueError), cycle_collector_paused():
        raise ValueError("boom")

    assert gc.isenabled()


def test_a_collector_paused_beforehand_stays_paused():
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
