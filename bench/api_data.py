"""Fill the benchmark database with a million signatures, set-based.

1,000 letters (one of them with 100,900 signatures for the export, the others
900 each), 300,000 people, 2,000 organizations, 1,000,000 signatures with two
sightings each (the organisers' site and a press source, spelled differently),
a name per sighting source per person, and 100,000 affiliations. People are
written with COPY; everything else with INSERT ... SELECT over generate_series.
"""

from __future__ import annotations

import random
import time

import psycopg

from people.matching.normalize import fold

LETTERS = 1000
BIG_LETTER_SIGNATURES = 100_900
# Letters 1 and 2 are both this big: their overlap is two 100,000-signature lists
# (95% of the people of each signed both).
BIG_LETTERS = 2
SIGNATURES_PER_LETTER = 900
PEOPLE = 300_000
ORGANIZATIONS = 2000
AFFILIATIONS = 100_000
TOTAL_SIGNATURES = (
    BIG_LETTERS * BIG_LETTER_SIGNATURES + (LETTERS - BIG_LETTERS) * SIGNATURES_PER_LETTER
)

_FIRST_NAMES = (
    "Ava Maggie Jake Cate Paul Alfonso Lana Lilly Chris Olivia Emma Liam Noah Sophia Mia "
    "Lucas Amelia Ethan Harper Mason Ella Logan Aria James Chloe Elijah Zoe Oliver Nora "
    "Henry Lily Daniel Hannah Samuel Layla Matthew Grace Joseph Aurora David Stella John "
    "Maya Owen Leah Isaac Ruby Gabriel Alice Julian Clara Anthony Eva Dylan Ivy Andrew "
    "Naomi Thomas Lucy Joshua Sara Ryan Elena Nathan Iris Aaron Violet Adrian Hazel Leo "
    "Margot Hugo Ines Mateo Lea Rafael Camille Diego Chiara Marco Giulia Pablo Lucia Jonas "
    "Ingrid Lars Freya Soren Astrid Kenji Yuki Hiro Aiko Ravi Priya Arjun Ananya Omar Leila "
    "Youssef Amira Kwame Ama Chidi Ngozi Tariq Zara Mikhail Olga Pavel Irina Stefan Marta"
)
_SYLLABLES = (
    "gyl len haal mc cart ney blan chett du ver nay cua ron wa chow ski ev ans ber stein "
    "mor gan ri vers hol land ash ford kel ler mar tin ez gon za lo pe ra sil va no va "
    "an der son lind qvist"
)
FIRST_NAMES = _FIRST_NAMES.split()
SYLLABLES = _SYLLABLES.split()


def _last_names() -> list[str]:
    rng = random.Random(7)
    names = set()
    while len(names) < 20000:
        parts = rng.randint(2, 3)
        names.add("".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize())
    return sorted(names)


def people_rows():
    lasts = _last_names()
    for index in range(1, PEOPLE + 1):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = lasts[(index * 7) % len(lasts)]
        display = f"{first} {last}"
        yield index, display, f"{last}, {first}", first, last, fold(display)


def fill(dsn: str) -> None:
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        existing = conn.execute("SELECT count(*) FROM letters_signature").fetchone()[0]
        if existing >= TOTAL_SIGNATURES:
            print(f"bench data present ({existing:,} signatures)")
            return
        conn.execute(
            "TRUNCATE letters_sighting, letters_signaturestatuschange, letters_signature, "
            "letters_lettertarget, letters_source, letters_letter_organisers, letters_letter, "
            "people_personname, people_affiliation, people_person, people_organization CASCADE"
        )
        with conn.transaction():
            conn.execute(
                """
                INSERT INTO people_organization (id, name, slug, kind, country, aliases,
                    external_ids, url, description, search_text, created_at, updated_at)
                SELECT g, 'Organization ' || g, 'organization-' || g,
                       (ARRAY['studio','union','company','university','ngo'])[1 + g %% 5],
                       'US', '[]', '{}', '', '', 'organization ' || g, now(), now()
                FROM generate_series(1, %s) g
                """,
                [ORGANIZATIONS],
            )
            with conn.cursor().copy(
                "COPY people_person (id, display_name, sort_name, given_name, family_name, "
                "search_text, middle_name, honorific, suffix, name_key, external_ids, notes, "
                "created_at, updated_at) FROM STDIN"
            ) as copy:
                for pid, display, sort, first, last, folded in people_rows():
                    copy.write_row(
                        (
                            pid,
                            display,
                            sort,
                            first,
                            last,
                            folded,
                            "",
                            "",
                            "",
                            folded,
                            "{}",
                            "",
                            "2025-01-01T00:00:00Z",
                            "2025-01-01T00:00:00Z",
                        )
                    )
            print(f"people written in {time.monotonic() - started:.0f}s")
            conn.execute(
                """
                INSERT INTO letters_letter (id, title, slug, summary, text, language,
                    published_on, url, status, claimed_count, claimed_count_min,
                    organisers_note, search_text, created_at, updated_at)
                SELECT g, 'Open letter ' || g, CASE WHEN g = 1 THEN 'bench-big-letter'
                       WHEN g = 2 THEN 'bench-big-letter-2' ELSE 'bench-letter-' || g END,
                       '', '', 'en',
                       date '2024-01-01' + g, '', 'open', '', NULL, '', 'open letter ' || g,
                       now(), now()
                FROM generate_series(1, %s) g
                """,
                [LETTERS],
            )
            conn.execute(
                """
                INSERT INTO letters_lettertarget (role, note, letter_id, organization_id)
                SELECT r, '', g, 1 + (g * 7 + CASE r WHEN 'subject' THEN 1 ELSE 0 END) %% %s
                FROM generate_series(1, %s) g, unnest(ARRAY['addressee','subject']) r
                """,
                [ORGANIZATIONS, LETTERS],
            )
            # Source 2L-1: the organisers' site; source 2L: a press article.
            conn.execute(
                """
                INSERT INTO letters_source (id, name, kind, url, format, options, reliability,
                    max_rejected_percent, enabled, sync_interval, etag, last_modified,
                    content_hash, created_at, updated_at, letter_id)
                SELECT 2 * g - 1 + k, (ARRAY['Organisers'' site','Press'])[1 + k],
                       (ARRAY['letter_site','press'])[1 + k],
                       'https://example.org/letters/' || g || '/' || k, 'csv', '{}', 80 - 30 * k,
                       5, false, interval '6 hours', '', '', '', now(), now(), g
                FROM generate_series(1, %s) g, generate_series(0, 1) k
                """,
                [LETTERS],
            )
            # Signature n of letter L goes to person (L*104729 + n*7919) mod 300000: 7919 is
            # prime to 300000, so a letter never has one person twice. A sync run records
            # 100 entries at one moment, so timestamps tie in blocks.
            conn.execute(
                """
                INSERT INTO letters_signature (id, status, title, affiliation, signed_on,
                    first_seen_at, last_seen_at, needs_review, review_reason, created_at,
                    updated_at, letter_id, merged_into_id, organization_id, person_id)
                SELECT row_number() OVER (),
                       CASE WHEN n %% 200 = 7 THEN 'removed' WHEN n %% 100 = 3 THEN 'disputed'
                            WHEN n %% 20 = 1 THEN 'verified' ELSE 'listed' END,
                       CASE WHEN n %% 3 = 0 THEN 'Actor' ELSE '' END,
                       CASE WHEN n %% 4 = 0 THEN 'Organization ' || (1 + n %% %s) ELSE '' END,
                       NULL,
                       timestamptz '2025-01-01' + (n / 100) * interval '1 hour',
                       timestamptz '2025-01-01' + (n / 100) * interval '1 hour' + interval '1 day',
                       false, '', now(), now(), l, NULL, NULL,
                       1 + (l::bigint * 104729 + n::bigint * 7919) %% %s
                FROM generate_series(1, %s) l,
                     LATERAL generate_series(0, CASE WHEN l <= %s THEN %s ELSE %s END - 1) n
                """,
                [
                    ORGANIZATIONS,
                    PEOPLE,
                    LETTERS,
                    BIG_LETTERS,
                    BIG_LETTER_SIGNATURES,
                    SIGNATURES_PER_LETTER,
                ],
            )
            print(f"signatures written in {time.monotonic() - started:.0f}s")
            # Each signature's history, as the services keep it: listed when first
            # seen, then (for some) verified, disputed or removed a day later.
            conn.execute(
                """
                INSERT INTO letters_signaturestatuschange (from_status, to_status, changed_at,
                    actor, reason, evidence_method, evidence_url, signature_id)
                SELECT '', 'listed', s.first_seen_at, 'sync', '', '', '', s.id
                FROM letters_signature s
                UNION ALL
                SELECT 'listed', s.status, s.first_seen_at + interval '1 day', '',
                       'Checked with the organisers.', 'other', '', s.id
                FROM letters_signature s WHERE s.status <> 'listed'
                """
            )
            print(f"status changes written in {time.monotonic() - started:.0f}s")
            conn.execute(
                """
                INSERT INTO letters_sighting (key, name, title, affiliation, country, url,
                    extra, position, present, first_seen_at, last_seen_at, signature_id,
                    source_id)
                SELECT 'person:' || s.person_id,
                       CASE k WHEN 0 THEN p.display_name ELSE p.sort_name END,
                       s.title, s.affiliation, '', '', '{}', NULL, true,
                       s.first_seen_at, s.last_seen_at, s.id, 2 * s.letter_id - 1 + k
                FROM letters_signature s
                JOIN people_person p ON p.id = s.person_id,
                     generate_series(0, 1) k
                """
            )
            print(f"sightings written in {time.monotonic() - started:.0f}s")
            conn.execute(
                """
                INSERT INTO people_personname (name, name_key, first_seen_at, person_id, source_id)
                SELECT display_name, name_key, now(), id, NULL FROM people_person
                """
            )
            conn.execute(
                """
                INSERT INTO people_affiliation (role, start_date, end_date, evidence_url,
                    created_at, source_id, organization_id, person_id)
                SELECT 'Member', NULL, NULL, '', now(), NULL, 1 + g %% %s, 1 + (g * 3) %% %s
                FROM generate_series(1, %s) g
                """,
                [ORGANIZATIONS, PEOPLE, AFFILIATIONS],
            )
            for table in (
                "people_organization",
                "people_person",
                "letters_letter",
                "letters_source",
                "letters_signature",
            ):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
        conn.execute("VACUUM ANALYZE")
    print(f"bench data written in {time.monotonic() - started:.0f}s")
