"""``as_of`` on a letter's signatures: the list as it stood at any moment of a
replayed week of syncs, each signatory with the status they had then."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from django.utils import timezone

from letters import services as letter_services
from letters.models import Signature
from tests.factories import make_letter
from tests.letters.fixtures.syncs import source_for, sync
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db(transaction=True)

# What the organisers' sheet listed each day, and who retracted that day.
WEEK = [
    (["Ava DuVernay", "Ben Stiller", "Cate Blanchett"], None),
    (["Ava DuVernay", "Ben Stiller", "Cate Blanchett", "Greta Gerwig"], None),
    (["Ava DuVernay", "Cate Blanchett", "Greta Gerwig"], None),
    (["Ava DuVernay", "Cate Blanchett", "Greta Gerwig"], "Cate Blanchett"),
    (["Ava DuVernay", "Ben Stiller", "Cate Blanchett", "Greta Gerwig"], None),
    (["Ava DuVernay", "Ben Stiller", "Cate Blanchett", "Greta Gerwig"], None),
    (["Ava DuVernay", "Greta Gerwig"], None),
]


def _sheet(names: list[str]) -> bytes:
    return ("name\n" + "".join(f"{name}\n" for name in names)).encode()


@pytest.fixture
def week(settings):
    """The letter and, for each day, the moment after that day's sync."""
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    letter = make_letter(slug="ostp")
    moments = [timezone.now()]
    with FeedServer() as feeds:
        source = source_for(letter, feeds, _sheet(WEEK[0][0]))
        for names, retracted in WEEK:
            feeds.serve("/signatories.csv", _sheet(names), content_type="text/csv")
            sync(source)
            if retracted:
                letter_services.signature_change_status(
                    signature=Signature.objects.get(person__display_name=retracted),
                    status="retracted",
                    reason="Asked to be taken off.",
                )
            moments.append(timezone.now())
    return moments


def _as_of(anon, moment, extra: str = "") -> dict[str, str]:
    url = f"/api/letters/ostp/signatures/?as_of={quote(moment.isoformat())}{extra}"
    return {item["person"]["name"]: item["status"] for item in anon.get(url).json()["results"]}


def test_each_day_of_the_week_reads_as_it_stood(anon, week):
    retracted: set[str] = set()
    assert _as_of(anon, week[0]) == {}
    for day, (names, newly_retracted) in enumerate(WEEK, start=1):
        if newly_retracted:
            retracted.add(newly_retracted)
        expected = {name: "retracted" if name in retracted else "listed" for name in names}
        assert _as_of(anon, week[day]) == expected, f"day {day}"


def test_the_list_as_it_stood_exports_as_csv(anon, week):
    url = f"/api/letters/ostp/signatures/?as_of={quote(week[4].isoformat())}&format=csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(anon.get(url).streaming_content).decode())))

    assert {row["name"]: (row["status"], row["public_status"]) for row in rows} == {
        "Ava DuVernay": ("listed", "listed"),
        "Cate Blanchett": ("retracted", "retracted"),
        "Greta Gerwig": ("listed", "listed"),
    }


def test_a_time_that_is_not_one_is_refused(anon, week):
    response = anon.get("/api/letters/ostp/signatures/?as_of=yesterday")

    assert response.status_code == 400
    assert response.json()["field"] == "as_of"


@pytest.mark.parametrize("page_size", [1, 3])
def test_a_page_as_it_stood_costs_three_queries_whatever_its_size(
    anon, week, django_assert_num_queries, page_size
):
    # 1. the letter, 2. the count, 3. the page with the statuses of then
    with django_assert_num_queries(3):
        body = anon.get(
            f"/api/letters/ostp/signatures/?as_of={quote(week[5].isoformat())}"
            f"&page_size={page_size}"
        ).json()

    assert len(body["results"]) == page_size
    assert body["count"] == 4
