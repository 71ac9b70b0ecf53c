"""Letters, the sources that list their signatories, what each source said
(sightings), the signatures those sightings support, and every sync run."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class LetterStatus(models.TextChoices):
    DRAFT = "draft"
    OPEN = "open", "Open for signatures"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Letter(models.Model):
    Status = LetterStatus

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.TextField(blank=True)
    text = models.TextField(blank=True, help_text="The letter's full text, where published.")
    language = models.CharField(max_length=16, blank=True, help_text="BCP 47 code, such as en.")
    published_on = models.DateField(null=True, blank=True)
    url = models.URLField("canonical URL", max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    claimed_count = models.CharField(
        max_length=50, blank=True, help_text='The count its organisers claim, as stated ("400+").'
    )
    claimed_count_min = models.PositiveIntegerField(
        null=True, blank=True, help_text="The claimed count as a number (400 for 400+)."
    )
    organisers = models.ManyToManyField(
        "people.Organization", blank=True, related_name="letters_organised"
    )
    organisers_note = models.CharField(max_length=500, blank=True)
    targets = models.ManyToManyField(
        "people.Organization", through="LetterTarget", related_name="letters_targeting"
    )
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LetterStatus.values), name="letter_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "-published_on"])]

    def __str__(self) -> str:
        return self.title


class LetterTargetRole(models.TextChoices):
    ADDRESSEE = "addressee", "Addressee (sent to)"
    SUBJECT = "subject", "Subject (about)"


class LetterTarget(models.Model):
    """An institution a letter is sent to (addressee) or is about (subject)."""

    Role = LetterTargetRole

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="letter_targets")
    organization = models.ForeignKey(
        "people.Organization", on_delete=models.PROTECT, related_name="letter_targets"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["role", "organization__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "organization", "role"], name="letter_target_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=LetterTargetRole.values), name="letter_target_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "role"])]

    def __str__(self) -> str:
        return f"{self.letter} -> {self.organization} ({self.role})"


class SourceKind(models.TextChoices):
    LETTER_SITE = "letter_site", "The letter's own site"
    PRESS = "press", "Press article"
    FEED = "feed", "Data feed"
    MANUAL = "manual", "Editors' entries"
    API = "api", "API clients"


class SourceFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
    HTML = "html", "HTML with selectors"
    NONE = "none", "None (entered by hand)"


class Source(models.Model):
    """Where a letter's signatories are listed, and what its last fetch returned."""

    Kind = SourceKind

    Format = SourceFormat

    # Higher means more trusted when sources disagree (display names, conflicts).
    DEFAULT_RELIABILITY = {
        Kind.MANUAL: 90,
        Kind.LETTER_SITE: 80,
        Kind.API: 60,
        Kind.PRESS: 50,
        Kind.FEED: 30,
    }

    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="sources")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.URLField(max_length=1000, blank=True)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.NONE)
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Format options: for JSON the key holding the list; for HTML the CSS "
        "selectors of each entry, its name and its affiliation; column renames for CSV.",
    )
    reliability = models.PositiveSmallIntegerField(
        default=50, help_text="0 to 100; higher wins when sources disagree."
    )
    max_rejected_percent = models.PositiveSmallIntegerField(
        default=5,
        help_text="0 to 100: the share of a file's rows that may be left out as unreadable "
        "(no name, a wrong shape) before the whole run fails.",
    )
    enabled = models.BooleanField(default=True, help_text="Synced on schedule when set.")
    sync_interval = models.DurationField(default=timedelta(hours=6))
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # What the last successful fetch returned, for conditional requests.
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["letter", "name"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "name"], name="source_unique_name"),
            models.UniqueConstraint(
                fields=["letter", "kind"],
                condition=Q(kind__in=["manual", "api"]),
                name="source_one_manual_and_api_per_letter",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SourceKind.values), name="source_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=SourceFormat.values), name="source_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(reliability__lte=100), name="source_reliability_range"
            ),
            models.CheckConstraint(
                condition=Q(max_rejected_percent__lte=100), name="source_max_rejected_range"
            ),
            models.CheckConstraint(
                condition=Q(sync_interval__gte=timedelta(minutes=1)),
                name="source_interval_at_least_a_minute",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.letter.slug})"

    @property
    def is_fetched(self) -> bool:
        return self.kind not in (self.Kind.MANUAL, self.Kind.API) and bool(self.url)


class SyncRunOutcome(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped", "Skipped (already running)"


class SyncRunTrigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual", "Requested"
    IMPORT = "import", "File import"


class SyncRun(models.Model):
    """One fetch of one source: outcome, counts, error and the diff."""

    Outcome = SyncRunOutcome

    Trigger = SyncRunTrigger

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    seen = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    back = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(
        default=0, help_text="Rows of the file left out because they cannot be read."
    )
    rejected_rows = models.JSONField(
        default=list,
        blank=True,
        help_text="The rows left out, each with its line (item or entry) number and the "
        "reason; the first 1,000.",
    )
    error = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    diff = models.JSONField(
        default=dict, blank=True, help_text="Names added, gone and changed since the previous run."
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run was queued, for runs that waited."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker started it (retries, lost workers)."
    )
    config_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="Hash of the format and options the content was read with; the same "
        "content read with other options is not unchanged.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=SyncRunOutcome.values), name="sync_run_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=SyncRunTrigger.values), name="sync_run_trigger_valid"
            ),
            # One run per source at a time, enforced by the database.
            models.UniqueConstraint(
                fields=["source"], condition=Q(outcome="running"), name="sync_run_one_running"
            ),
            # A source waiting for a worker counts as busy too: a second request is skipped.
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(outcome__in=["queued", "running"]),
                name="sync_run_one_pending",
            ),
        ]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.source.name} ({self.outcome})"


class SyncRunContent(models.Model):
    """The raw bytes a run fetched, compressed, so any run can be re-read."""

    run = models.OneToOneField(SyncRun, on_delete=models.PROTECT, related_name="content")
    compression = models.CharField(max_length=10, default="gzip")
    data = models.BinaryField()
    size = models.PositiveBigIntegerField(help_text="Size before compression, in bytes.")
    content_type = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"Content of run {self.run_id}"


class SignatureStatus(models.TextChoices):
    LISTED = "listed"
    VERIFIED = "verified"
    DISPUTED = "disputed"
    RETRACTED = "retracted"
    REMOVED = "removed", "Removed (fake)"


class SignatureReviewCause(models.TextChoices):
    NONE = "", "Not flagged"
    GONE = "gone", "No source lists it any more"
    EDITOR = "editor", "Flagged by an editor"


class Signature(models.Model):
    """A person's signature on a letter, at most one per pair.

    The title and affiliation are those stated when signing, apart from the
    person's current ones. When a merge brings two signatures of one letter
    together, the merged one stays as history and points at the one kept.
    """

    Status = SignatureStatus

    ReviewCause = SignatureReviewCause

    # letter and person are indexed by signature_unique_person and
    # signature_person_idx, which they lead: one index less to write per signature.
    letter = models.ForeignKey(
        Letter, on_delete=models.PROTECT, related_name="signatures", db_index=False
    )
    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="signatures", db_index=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.LISTED)
    title = models.CharField(max_length=500, blank=True, help_text="Title as stated.")
    affiliation = models.CharField(max_length=500, blank=True, help_text="Affiliation as stated.")
    organization = models.ForeignKey(
        "people.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signatures",
        help_text="The organization the stated affiliation refers to, when known.",
    )
    organization_source = models.ForeignKey(
        Source,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The source whose stated affiliation the organization was found by; "
        "empty when an editor chose it.",
    )
    organization_by_hand = models.BooleanField(
        default=False,
        db_default=False,
        help_text="An editor chose the organization (or chose none): affiliations "
        "resolved later leave it as it is.",
    )
    signed_on = models.DateField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    needs_review = models.BooleanField(default=False)
    # Why it is flagged: a sync clears only its own "gone" flag, never an editor's.
    review_cause = models.CharField(
        max_length=20,
        choices=ReviewCause.choices,
        blank=True,
        default=ReviewCause.NONE,
        db_default=ReviewCause.NONE,
    )
    review_reason = models.CharField(max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_signatures",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["letter", "first_seen_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "person"], name="signature_unique_person"),
            models.CheckConstraint(
                condition=Q(status__in=SignatureStatus.values), name="signature_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="signature_not_merged_into_self"
            ),
            models.CheckConstraint(
                condition=Q(review_cause__in=SignatureReviewCause.values),
                name="signature_review_cause_valid",
            ),
            # Flagged exactly when there is a cause.
            models.CheckConstraint(
                condition=Q(needs_review=True) & ~Q(review_cause="")
                | Q(needs_review=False, review_cause=""),
                name="signature_review_has_cause",
            ),
        ]
        indexes = [
            models.Index(
                fields=["letter", "first_seen_at", "id"],
                name="signature_letter_seen_idx",
                condition=Q(merged_into__isnull=True),
            ),
            models.Index(fields=["letter", "status"], name="signature_letter_status_idx"),
            models.Index(fields=["person", "letter"], name="signature_person_idx"),
            models.Index(
                fields=["needs_review"],
                name="signature_review_idx",
                condition=Q(needs_review=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.letter}"


class SignatureStatusChangeMethod(models.TextChoices):
    SOURCE = "source", "Listed by a source"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone call"
    PUBLIC_STATEMENT = "public_statement", "Public statement"
    SOCIAL_MEDIA = "social_media", "Social media post"
    ORGANISER = "organiser", "Organisers"
    PRESS = "press", "Press report"
    OTHER = "other", "Other"


class SignatureStatusChange(models.Model):
    """One change of a signature's status: who, when, why, and the evidence."""

    Method = SignatureStatusChangeMethod

    # Indexed by the (signature, changed_at) index, which it leads.
    signature = models.ForeignKey(
        Signature, on_delete=models.PROTECT, related_name="status_changes", db_index=False
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, choices=Signature.Status.choices)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(
        max_length=100, blank=True, help_text="Who acted when no user did: a sync, the matcher."
    )
    reason = models.TextField(blank=True)
    evidence_method = models.CharField(max_length=30, choices=Method.choices, blank=True)
    evidence_url = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status__in=SignatureStatus.values),
                name="status_change_to_valid",
            ),
            models.CheckConstraint(
                condition=Q(from_status="") | Q(from_status__in=SignatureStatus.values),
                name="status_change_from_valid",
            ),
            models.CheckConstraint(
                condition=Q(evidence_method="")
                | Q(evidence_method__in=SignatureStatusChangeMethod.values),
                name="status_change_method_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["signature", "changed_at"]),
            # The change feed reads every letter's history from a time onwards.
            models.Index(fields=["changed_at", "id"], name="status_change_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.signature}: {self.from_status or '-'} -> {self.to_status}"


class Sighting(models.Model):
    """One entry of one source, as it was written."""

    # source and signature are indexed by sighting_unique_key and
    # sighting_signature_idx, which they lead.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="sightings", db_index=False
    )
    key = models.CharField(
        max_length=400, help_text="Identifies the entry within its source across fetches."
    )
    signature = models.ForeignKey(
        Signature, on_delete=models.PROTECT, related_name="sightings", db_index=False
    )
    name = models.CharField(max_length=500, help_text="The name as written.")
    title = models.CharField(max_length=500, blank=True)
    affiliation = models.CharField(max_length=500, blank=True)
    country = models.CharField(max_length=100, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Other fields, kept as given.")
    position = models.PositiveIntegerField(null=True, blank=True, help_text="Row in the source.")
    present = models.BooleanField(default=True, help_text="Listed by the latest fetch.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)
    first_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    gone_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    row_hash = models.BinaryField(
        max_length=16,
        null=True,
        blank=True,
        editable=False,
        help_text="A digest of the row its values were read from, with what decided how it was "
        "read (letters.sync.parse); a sync recognises a row listed exactly as before by it. "
        "Empty when its values came another way.",
    )

    class Meta:
        ordering = ["source", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="sighting_unique_key"),
            models.CheckConstraint(
                condition=Q(present=True, gone_at__isnull=True) | Q(present=False),
                name="sighting_present_not_gone",
            ),
        ]
        indexes = [
            models.Index(fields=["signature", "source"], name="sighting_signature_idx"),
            models.Index(fields=["source", "present"], name="sighting_source_present_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} in {self.source.name}"


class SightingEventKind(models.TextChoices):
    ADDED = "added"
    CHANGED = "changed"
    GONE = "gone"
    BACK = "back"
    MOVED = "moved", "Moved to another signature"


class SightingEvent(models.Model):
    """The history of a sighting: added, changed (with the previous values),
    gone, back, and moves between signatures."""

    Kind = SightingEventKind

    # Indexed by the (sighting, at) index, which it leads.
    sighting = models.ForeignKey(
        Sighting, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.PROTECT, related_name="sighting_events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SightingEventKind.values), name="sighting_event_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["sighting", "at"]),
            models.Index(fields=["at", "id"], name="sighting_event_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sighting_id}"


class WebhookSubscription(models.Model):
    """A receiver of the change feed: batches of events POSTed to ``url``, signed
    with ``secret``, from ``cursor_*`` (the position of the last event delivered)
    on. Paused, with the reason, when no delivery succeeded for a day or when
    asked; ended (``ended_at``) when unsubscribed, never deleted."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(
        default=list, blank=True, help_text="The change-feed kinds sent; empty: every kind."
    )
    letters = models.ManyToManyField(
        Letter,
        blank=True,
        related_name="webhook_subscriptions",
        help_text="Only changes to these letters' lists; none: every change, merges and "
        "splits of people included.",
    )
    # Needed to sign every delivery, so it is stored; shown once, when created.
    secret = models.CharField(max_length=100, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True, help_text="Off: paused, nothing is sent.")
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.TextField(blank=True)
    ended_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Unsubscribed: nothing is sent any more; kept with its deliveries as history.",
    )
    cursor_at = models.DateTimeField(help_text="The change-feed position delivered up to.")
    cursor_rank = models.SmallIntegerField(default=-1)
    cursor_row = models.BigIntegerField(default=0)
    last_event_id = models.CharField(
        max_length=30, blank=True, help_text="The last event delivered (its change-feed id)."
    )
    last_request_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last request was sent (one per batch period)."
    )
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a failed delivery is tried again."
    )
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When beat queued a delivery no worker has begun yet."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryOutcome(models.TextChoices):
    PENDING = "pending", "Pending (being tried)"
    DELIVERED = "delivered"
    FAILED = "failed", "Failed (subscription paused)"


class WebhookDelivery(models.Model):
    """One batch of events for one subscription, with every attempt to send it
    counted: the last answer's status, how long it took and the error."""

    Outcome = WebhookDeliveryOutcome

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    first_event_id = models.CharField(max_length=30)
    last_event_id = models.CharField(max_length=30)
    event_count = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The receiver's last answer; empty when none came."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(outcome="pending"),
                name="one_pending_delivery_per_subscription",
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_event_id}..{self.last_event_id} ({self.outcome})"


class ListVersionQuerySet(models.QuerySet):
    """Published versions are never changed or deleted: the queryset refuses
    bulk updates and deletes as the model refuses saving an existing row."""

    def update(self, **kwargs):
        raise TypeError("A list version, once published, cannot be changed.")

    def delete(self):
        raise TypeError("A list version, once published, cannot be deleted.")


class ListVersion(models.Model):
    """One state of a letter's public list, as published: its canonical CSV
    (compressed), that file's SHA-256, and the hash that chains it to the
    version before (``letters.versions`` documents both)."""

    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3... within the letter.")
    created_at = models.DateTimeField()
    count = models.PositiveIntegerField(help_text="Rows of the list (signatures).")
    content_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the canonical CSV.")
    previous_hash = models.CharField(
        max_length=64, blank=True, help_text="The previous version's hash; empty for version 1."
    )
    hash = models.CharField(
        max_length=64, help_text='SHA-256 of previous_hash, "\\n" and content_sha256.'
    )
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.PROTECT, related_name="list_versions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True, help_text="What changed the list.")
    compression = models.CharField(max_length=10, default="gzip")
    data = models.BinaryField(help_text="The canonical CSV, compressed.")
    size = models.PositiveBigIntegerField(help_text="Size of the CSV before compression, in bytes.")

    objects = ListVersionQuerySet.as_manager()

    class Meta:
        ordering = ["letter", "number"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "number"], name="list_version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="list_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.letter_id}"

    def save(self, *args, **kwargs) -> None:
        # The one guard against rewriting history through the ORM; versions are
        # made by letters.versions.record_version only.
        if not self._state.adding:
            raise TypeError("A list version, once published, cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("A list version, once published, cannot be deleted.")
