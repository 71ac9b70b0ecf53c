from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = "Letters, sources and signatures"

    def ready(self) -> None:
        from letters.affiliations import organization_named
        from letters.signatures import SignatureFollower, person_renamed
        from people import organization_hooks, person_hooks
        from people.merging import followers

        # Signatures and sightings follow people's merges, undos and splits.
        followers.register(SignatureFollower())
        # Affiliations stated before an organization was known link to it once it is.
        organization_hooks.register(organization_named)
        # A signatory's new display name is a new version of the lists they are on.
        person_hooks.register(person_renamed)
