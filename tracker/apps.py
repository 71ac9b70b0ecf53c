from django.apps import AppConfig
from django.db.backends.signals import connection_created

# pg_trgm's default (0.6) misses one-letter typos in longer names: "gylenhall"
# scores 0.5 against "maggie gyllenhaal". The "<%" / "%>" operators read this
# setting, and only operators (not a comparison with word_similarity()) can use
# the trigram GIN indexes, so it is set per connection.
WORD_SIMILARITY_THRESHOLD = 0.45


def _set_search_threshold(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)",
                [str(WORD_SIMILARITY_THRESHOLD)],
            )


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "API plumbing"

    def ready(self) -> None:
        connection_created.connect(_set_search_threshold, dispatch_uid="tracker-search-threshold")
