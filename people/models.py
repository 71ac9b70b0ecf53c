"""People, the organizations they belong to or that letters target, and the
record of how duplicate people were judged and merged."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class OrganizationKind(models.TextChoices):
    GOVERNMENT = "government", "Government body"
    COMPANY = "company", "Company"
    STUDIO = "studio", "Studio"
    UNION = "union", "Union or guild"
    UNIVERSITY = "university", "University or school"
    FESTIVAL = "festival", "Festival or event"
    NGO = "ngo", "NGO or association"
    MEDIA = "media", "Media outlet"
    OTHER = "other", "Other"


class Organization(models.Model):
    """Any institution: one table serves as affiliation and as letter target."""

    Kind = OrganizationKind

    name = models.CharField(max_length=300)
    slug = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code, such as US or FR."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The institution this one sits under.",
    )
    aliases = models.JSONField(default=list, blank=True, help_text='Other names, such as ["OSTP"].')
    external_ids = models.JSONField(
        default=dict, blank=True, help_text='Identifiers elsewhere, such as {"wikidata": "Q..."}.'
    )
    url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    # Case- and accent-folded name and aliases; kept by the services for search.
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OrganizationKind.values),
                name="organization_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")), name="organization_not_own_parent"
            ),
        ]
        indexes = [models.Index(fields=["kind", "name"])]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """One human being, whatever the spellings of their name in the sources.

    A person merged into another keeps its row and points at the survivor, so
    old ids keep resolving and the merge can be undone.
    """

    display_name = models.CharField(max_length=300)
    sort_name = models.CharField(max_length=300, blank=True)
    sort_key = models.CharField(
        max_length=300,
        blank=True,
        db_default="",
        editable=False,
        help_text="The sort name folded (case, accents) with its particles after the "
        "family name: del Toro sorts under T, beside Tarantino.",
    )
    given_name = models.CharField(max_length=150, blank=True)
    middle_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    honorific = models.CharField(max_length=60, blank=True, help_text="Sir, Dame, Dr...")
    suffix = models.CharField(max_length=60, blank=True, help_text="CBE, PhD, Jr...")
    # Indexed in Meta (a plain b-tree: it is only ever compared whole).
    name_key = models.CharField(
        max_length=300,
        editable=False,
        help_text="Normalised name used to resolve new sightings exactly.",
    )
    external_ids = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_people",
        help_text="Set when this record was merged into another person.",
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    # Folded display name and every name seen; kept by the services for search.
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_name", "id"]
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="person_not_merged_into_self"
            ),
        ]
        indexes = [
            # Looked up by equality only (people_for_entries): no LIKE index beside it.
            models.Index(fields=["name_key"], name="person_name_key_idx"),
            models.Index(
                fields=["sort_name", "id"],
                name="person_active_sort_idx",
                condition=Q(merged_into__isnull=True),
            ),
            models.Index(
                fields=["sort_key", "id"],
                name="person_active_sort_key_idx",
                condition=Q(merged_into__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class PersonName(models.Model):
    """A name seen for a person, and where it was seen."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="names")
    name = models.CharField(max_length=300)
    # Not indexed: no query looks a name up by its key (people are resolved by
    # Person.name_key); two indexes on it cost every bulk write of names.
    name_key = models.CharField(max_length=300, editable=False)
    source = models.ForeignKey(
        "letters.Source",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="person_names",
        help_text="Empty when an editor added the name by hand.",
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "name", "source"],
                condition=Q(source__isnull=False),
                name="person_name_unique_per_source",
            ),
            models.UniqueConstraint(
                fields=["person", "name"],
                condition=Q(source__isnull=True),
                name="person_name_unique_by_hand",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Affiliation(models.Model):
    """A person's role at an organization, with the source that says so."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="affiliations")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="affiliations"
    )
    role = models.CharField(max_length=300, blank=True, help_text="Role or title held there.")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    source = models.ForeignKey(
        "letters.Source",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="affiliations",
    )
    evidence_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="affiliation_dates_ordered",
            ),
        ]
        indexes = [models.Index(fields=["organization", "person"])]

    def __str__(self) -> str:
        return f"{self.person} at {self.organization}"


class MatchRunMode(models.TextChoices):
    INCREMENTAL = "incremental"
    FULL = "full"


class MatchRunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class MatchRun(models.Model):
    """One run of the duplicate finder, with what it did and how long it took."""

    Mode = MatchRunMode

    Status = MatchRunStatus

    mode = models.CharField(max_length=20, choices=Mode.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    people_considered = models.PositiveIntegerField(default=0)
    blocks = models.PositiveIntegerField(default=0)
    pairs_scored = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    blocked_by_judgements = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    focus = models.JSONField(
        default=list, blank=True, help_text="For an incremental run: the new or changed people."
    )
    candidates = models.PositiveIntegerField(default=0, help_text="Pairs proposed by blocking.")
    blocks_done = models.PositiveIntegerField(default=0)
    combine_started_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="Seconds per step and the weights used."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=MatchRunMode.values), name="match_run_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MatchRunStatus.values),
                name="match_run_status_valid",
            ),
            # One run at a time, enforced by the database.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="match_run_one_running"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} match run {self.pk} ({self.status})"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class MatchRunBlock(models.Model):
    """One independent block of a run: the pairs it scores and what it found.

    Blocks are scored by Celery workers in parallel; the last to finish queues
    the step that combines them.
    """

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="run_blocks")
    number = models.PositiveIntegerField()
    pairs = models.JSONField(default=list, help_text="Pairs of person ids to score.")
    frequencies = models.JSONField(default=dict, help_text="Name frequencies over everyone.")
    result = models.JSONField(default=dict, blank=True)
    pairs_scored = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="match_run_block_unique"),
        ]

    def __str__(self) -> str:
        return f"Block {self.number} of match run {self.run_id}"


class MatchQueueEntry(models.Model):
    """A person waiting for an incremental match run: added or respelled by an
    entry or a sync. The database, not the broker, holds who waits, so a broker
    that is down or lost a job loses no one (``people.merging.runs.match_queue``)."""

    person = models.OneToOneField(
        "Person", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queued_at", "person"]
        verbose_name_plural = "match queue entries"

    def __str__(self) -> str:
        return f"Person {self.person_id} waits for matching"


class MatchQueueSend(models.Model):
    """One row: whether a job to match the queued people is on its way to a
    worker (``sent_at``), so that a burst of entries sends one job; ``error``
    marks a job the broker could not take, for ``tracker.resend`` to send again."""

    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="match_queue_send_one_row")]

    def __str__(self) -> str:
        return f"Matching of the queue sent at {self.sent_at}" if self.sent_at else "Not sent"


class NameKey(models.Model):
    """A written name as the duplicate finder reads it, kept between runs: its
    folded parts, their sounds and its blocking keys.

    Found by the name exactly as written, so a changed name is read afresh;
    ``version`` is the digest of the code that read it, and rows of another
    version are ignored and replaced (``people.matching.index``). The match job
    fills it; nothing else writes it, and emptying it only costs the next run
    the time to read every name again.
    """

    name = models.TextField(unique=True)
    version = models.CharField(max_length=16)
    written = models.TextField(blank=True)
    given = models.TextField(blank=True)
    middle = models.TextField(blank=True)
    family = models.TextField(blank=True)
    family_full = models.TextField(blank=True)
    family_parts = models.TextField(blank=True)
    honorific = models.TextField(blank=True)
    suffix = models.TextField(blank=True)
    given_meta = models.TextField(blank=True)
    family_meta = models.TextField(blank=True)
    keys = models.TextField(
        blank=True, help_text="Blocking keys, one a line, each with its ordering text after a tab."
    )

    def __str__(self) -> str:
        return self.name


class MatchJudgementDecision(models.TextChoices):
    PENDING = "pending", "Pending review"
    SAME = "same", "Same person"
    DIFFERENT = "different", "Different people"
    UNSURE = "unsure", "Unsure"


class MatchJudgement(models.Model):
    """A pair of people that may be one, with the score, why, and the decision.

    The pair is stored in id order so that each pair has one row. A decision of
    "different" is a hard constraint: no automatic run overrules it.
    """

    Decision = MatchJudgementDecision

    person_a = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField(default=0.0)
    explanation = models.JSONField(
        default=dict, blank=True, help_text="Features that agreed and disagreed, with weights."
    )
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    automatic = models.BooleanField(
        default=False, help_text="Decided by the matcher rather than by an editor."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    run = models.ForeignKey(
        MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgements"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="judgement_unique_pair"),
            models.CheckConstraint(
                condition=Q(person_a__lt=F("person_b")), name="judgement_pair_ordered"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=MatchJudgementDecision.values),
                name="judgement_decision_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["decision", "-score"], name="judgement_queue_idx"),
            models.Index(fields=["person_b"], name="judgement_person_b_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a} / {self.person_b} ({self.decision})"


class Merge(models.Model):
    """One person folded into another, with exactly what moved, so it can be undone."""

    survivor = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="merges_received")
    merged = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="merges_given")
    judgement = models.ForeignKey(
        MatchJudgement, null=True, blank=True, on_delete=models.PROTECT, related_name="merges"
    )
    run = models.ForeignKey(
        MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    automatic = models.BooleanField(default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    survivor_name = models.CharField(
        max_length=300, blank=True, help_text="The survivor's name when merged."
    )
    merged_name = models.CharField(
        max_length=300, blank=True, help_text="The merged person's name when merged."
    )
    moved = models.JSONField(
        default=dict,
        help_text="Ids of the signatures, sightings, names and affiliations that moved, "
        "and where each came from.",
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_reason = models.TextField(blank=True)
    undo_detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="For a partial undo: the records taken back out, and the merges that "
        "kept the others in.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(survivor=F("merged")), name="merge_distinct_people"
            ),
            # A person can be folded into someone once at a time.
            models.UniqueConstraint(
                fields=["merged"],
                condition=Q(undone_at__isnull=True),
                name="merge_one_active_per_merged",
            ),
        ]

    def __str__(self) -> str:
        merged = self.merged_name or f"#{self.merged_id}"
        survivor = self.survivor_name or f"#{self.survivor_id}"
        return f"{merged} (#{self.merged_id}) into {survivor} (#{self.survivor_id})"


class PersonRenameCause(models.TextChoices):
    EDIT = "edit", "edited"
    MERGE = "merge", "a merge showed another of their spellings"
    UNMERGE = "unmerge", "a merge was undone"
    SPLIT = "split", "a split showed another of their spellings"


class PersonRename(models.Model):
    """The name a person is shown by changed: an editor's correction, or a merge,
    an undone merge or a split that showed another of their spellings."""

    Cause = PersonRenameCause

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="renames")
    before = models.CharField(max_length=300)
    after = models.CharField(max_length=300)
    cause = models.CharField(max_length=20, choices=Cause.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["created_at", "id"], name="person_rename_at_idx")]

    def __str__(self) -> str:
        return f"{self.before} -> {self.after} (#{self.person_id})"


class Split(models.Model):
    """Some of a person's entries moved to a new person, with exactly what moved,
    so that it can be undone."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="splits")
    new_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="split_from")
    person_name = models.CharField(max_length=300, blank=True)
    new_person_name = models.CharField(max_length=300, blank=True)
    judgement = models.ForeignKey(
        MatchJudgement, null=True, blank=True, on_delete=models.PROTECT, related_name="splits"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    moved = models.JSONField(
        default=dict,
        help_text="Ids of the sightings, signatures and names that moved, and where from.",
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_reason = models.TextField(blank=True)
    undo_merge = models.ForeignKey(
        Merge,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The merge that put the entries back.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(person=F("new_person")), name="split_distinct_people"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.new_person_name or '#' + str(self.new_person_id)} (#{self.new_person_id}) "
            f"split from {self.person_name or '#' + str(self.person_id)} (#{self.person_id})"
        )
