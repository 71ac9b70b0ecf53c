"""``?ordering=`` on the lists: a documented set of orders per list, the first
its default; an order not in the set is refused with a 400 naming the ones there
are, never ignored."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from tracker.pagination import KeysetPagination

ORDERING_PARAM = "ordering"


def ordering_parameter(orderings: dict[str, tuple[str, ...]], described: str) -> OpenApiParameter:
    """The schema of a list's ``ordering``: its choices and what they mean."""
    default = next(iter(orderings))
    return OpenApiParameter(
        ORDERING_PARAM,
        OpenApiTypes.STR,
        enum=list(orderings),
        description=f"{described} `-` before a key reverses it. Default: `{default}`.",
    )


class OrderedListMixin:
    """Orders a list by ``?ordering=``, one of ``orderings`` (keys to the model
    fields, ending in a unique one); keyset-paginated lists page in that order."""

    orderings: dict[str, tuple[str, ...]]

    def default_ordering(self) -> str | None:
        """The order when none is asked for; None keeps the queryset's own (such
        as the best matches of a search first)."""
        return next(iter(self.orderings))

    def ordering_key(self) -> str | None:
        raw = self.request.query_params.get(ORDERING_PARAM)
        if raw in (None, ""):
            return self.default_ordering()
        if raw not in self.orderings:
            choices = ", ".join(self.orderings)
            raise ValidationError(
                {ORDERING_PARAM: [f"Order by one of: {choices}; {raw[:40]!r} is not one."]},
                code="invalid_choice",
            )
        return raw

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if getattr(self, "action", None) != "list":
            return queryset
        key = self.ordering_key()
        if key is None:
            return queryset
        if isinstance(self.paginator, KeysetPagination):
            self.paginator.ordering = self.orderings[key]
            return queryset
        return queryset.order_by(*self.orderings[key])
