from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People and organizations"

    def ready(self) -> None:
        # The match runs' tasks live in the merging package, which Celery's
        # autodiscovery (an app's own ``tasks`` module) does not look into.
        from people.merging import tasks  # noqa: F401
