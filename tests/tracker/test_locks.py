"""The advisory locks: one table of key spaces, one order."""

import threading

import pytest
from django.db import connection, connections, transaction

from tracker import locks


def test_every_key_space_is_distinct_and_in_the_lock_order():
    assert len(set(locks.KEY_SPACES.values())) == len(locks.KEY_SPACES)
    assert set(locks.LOCK_ORDER) == set(locks.KEY_SPACES)


@pytest.mark.django_db(transaction=True)
def test_a_source_is_synced_by_one_holder_at_a_time():
    held_elsewhere = []

    def other_process():
        try:
            with locks.source_lock(42) as held:
                held_elsewhere.append(held)
        finally:
            connections.close_all()

    with locks.source_lock(42) as held:
        assert held
        thread = threading.Thread(target=other_process)
        thread.start()
        thread.join(10)
    assert held_elsewhere == [False]
    with locks.source_lock(42) as again:
        assert again


@pytest.mark.django_db(transaction=True)
def test_a_shared_people_lock_waits_for_an_exclusive_one():
    order = []
    started = threading.Event()

    def writer():
        try:
            started.set()
            with transaction.atomic():
                locks.people_lock(exclusive=False)
                order.append("writer")
        finally:
            connections.close_all()

    with transaction.atomic():
        locks.people_lock(exclusive=True)
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait(5)
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the merge
        order.append("merge")
    thread.join(10)
    assert order == ["merge", "writer"]
    assert connection.vendor == "postgresql"
