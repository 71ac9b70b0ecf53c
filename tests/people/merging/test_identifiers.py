"""Strong identifiers in a run on the database: a person's external ids and
the identifiers their entries state in other columns."""

from letters.services import Entry, signature_record
from people.merging import runs
from people.models import MatchJudgement, Person
from people.services import person_create, person_survivor
from tests.factories import make_letter, make_source


def sign(source, name: str, *, extra=None, person=None) -> Person:
    person = person or person_create(name=name, source=source)
    result = signature_record(
        letter=source.letter,
        source=source,
        entry=Entry(name=name, title="Actor", extra=extra or {}),
        person=person,
    )
    return result.signature.person


def one(*people: Person) -> bool:
    return len({person_survivor(Person.objects.get(pk=p.pk)).pk for p in people}) == 1


def sources():
    letter = make_letter(title="Letter to the OSTP on AI and copyright")
    return (
        make_source(letter, name="Letter site", kind="letter_site"),
        make_source(letter, name="Newspaper", kind="press"),
        make_source(letter, name="Feed", kind="feed"),
    )


def test_a_run_reads_external_ids_and_the_identifiers_entries_state(db):
    site, press, _feed = sources()
    chris = person_create(name="Chris Evans", external_ids={"wikidata": "Q178348"})
    sign(site, "Chris Evans", person=chris)
    other = sign(press, "Chris Evans", extra={"E-mail": "c.evans@example.org", "Notes": "x"})
    records = {r.id: r for r in runs.load_records([chris.pk, other.pk])}
    assert records[chris.pk].identifiers == (("wikidata", "Q178348"),)
    assert records[other.pk].identifiers == (("E-mail", "c.evans@example.org"),)
    names = {r.id: r for r in runs.load_names([chris.pk, other.pk])}
    assert names[chris.pk].identifiers == (("wikidata", "Q178348"),)


def test_a_run_never_merges_two_namesakes_with_other_qids_even_through_a_third(db):
    site, press, feed = sources()
    actor = person_create(name="Chris Evans", external_ids={"wikidata": "Q178348"})
    sign(site, "Chris Evans", person=actor)
    host = person_create(name="Chris Evans", external_ids={"wikidata": "Q5107587"})
    sign(press, "Chris Evans", person=host)
    sign(feed, "EVANS, CHRIS")
    run = runs.run_now(full=True)
    assert run.status == "succeeded"
    assert not one(actor, host)


def test_a_run_merges_a_replaced_given_name_when_the_stated_orcids_agree(db):
    site, press, _feed = sources()
    anna = sign(site, "Anna Gyllenhaal", extra={"ORCID iD": "0000-0002-1825-0097"})
    ella = sign(press, "Ella Gyllenhaal", extra={"orcid": "https://orcid.org/0000-0002-1825-0097"})
    runs.run_now(full=True)
    assert one(anna, ella)


def test_a_run_leaves_twins_born_the_same_day_to_an_editor(db):
    site, press, _feed = sources()
    mary_kate = sign(site, "Mary-Kate Olsen", extra={"date_of_birth": "1986-06-13"})
    ashley = sign(press, "Ashley Olsen", extra={"Date of birth": "19860613"})
    runs.run_now(full=True)
    assert not one(mary_kate, ashley)
    assert MatchJudgement.objects.filter(decision="pending").count() == 1
