"""Records the matcher tests share: ten people written five ways, and names
kept by a previous run."""

from people.matching.index import NameIndex
from people.matching.records import Record


def kept(records: list[Record]) -> NameIndex:
    """The names of ``records`` as a previous run keeps them: through table rows."""
    previous = NameIndex()
    previous.update(name for record in records for name in record.names)
    return NameIndex.from_rows(previous.rows())


def variants() -> list[Record]:
    """Ten people, each written five ways by five sources."""
    people = [
        ("Maggie", "Gyllenhaal", "Actor", "SAG-AFTRA"),
        ("Paul", "McCartney", "Musician", "MPL Communications"),
        ("Alfonso", "Cuarón", "Film director", "Esperanto Filmoj"),
        ("Ava", "DuVernay", "Director", "Array"),
        ("Cate", "Blanchett", "Actress", "Dirty Films"),
        ("Lana", "Wachowski", "Director", "Venus Castina"),
        ("Lilly", "Wachowski", "Director", "Venus Castina"),
        ("Guillermo", "del Toro", "Filmmaker", "Bona Fide"),
        ("Robert", "Smith", "Singer", "The Cure"),
        ("Katherine", "Ryan", "Comedian", "Live Nation"),
    ]
    records = []
    for index, (given, family, title, org) in enumerate(people):
        writings = [
            f"{given} {family}",
            f"{family}, {given}".upper(),
            f"Dr {given} {family} OBE",
            f"{given[0]}. {family}",
            f"{given} {family}".replace("a", "á", 1),
        ]
        for number, written in enumerate(writings):
            records.append(
                Record(
                    index * 10 + number,
                    (written,),
                    titles=(title,),
                    orgs=(org,),
                    letters=(1,),
                    listings=(100 + number,),
                )
            )
    return records
