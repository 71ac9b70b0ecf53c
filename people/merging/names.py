"""The name a person is shown by."""

from __future__ import annotations

from people.matching.normalize import parse_name
from people.merging import followers

# A name typed by an editor without a source ranks below every source's spelling.
_BY_HAND: tuple = ()


def best_spelling(
    display_name: str, names: list[tuple[str, int | None]], rank: dict[int, tuple] | None = None
) -> str | None:
    """Of a person's names (as written, with the id of the source that wrote
    each, oldest first), the one to show when its source is more trusted with
    spellings than those that wrote the current display name: a letter's own
    list over the press, the press over scraped feeds, any source over an
    editor's typing (``Follower.spelling_rank``).

    A tie keeps the current name, so that merging never flips a name back and
    forth. ``rank`` is ``followers.spelling_rank`` of the sources, when read already.
    """
    if not names:
        return None
    if rank is None:
        rank = followers.spelling_rank(source for _name, source in names)

    def rank_of(source: int | None) -> tuple:
        return _BY_HAND if source is None else rank.get(source, _BY_HAND)

    ranks = [rank_of(source) for _name, source in names]
    best = max(ranks)
    # The current name stays when a spelling of it ranks as high as any: only
    # the names of the best rank are parsed, and no further than the first.
    tops = [name for (name, _source), r in zip(names, ranks, strict=True) if r == best]
    if any(parse_name(name).display == display_name for name in tops):
        return None
    return tops[0]
