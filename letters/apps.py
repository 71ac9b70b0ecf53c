from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = "Letters, sources and signatures"

    def ready(self) -> None:
        from letters.signatures import SignatureFollower
        from people.merging import followers

        # Signatures and sightings follow people's merges, undos and splits.
        followers.register(SignatureFollower())
