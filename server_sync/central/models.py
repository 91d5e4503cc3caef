"""Peewee models of the central store. Bound late through `database_proxy` (see db.connect).

The schema itself is created by numbered migrations (server_sync/central/migrations); these
models must match it. Times are naive UTC datetimes.
"""

from __future__ import annotations

import json
from typing import Any

from peewee import (BigIntegerField, BlobField, BooleanField, CharField, CompositeKey,
                    DatabaseProxy, DateTimeField, IntegerField, Model, TextField)

database_proxy = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Site(BaseModel):
    id = CharField(primary_key=True, max_length=64)
    name = TextField()
    timezone = TextField(default="Europe/Stockholm")
    created_at = DateTimeField()


class Kiosk(BaseModel):
    id = CharField(primary_key=True, max_length=64)
    site_id = CharField(max_length=64)
    registered_at = DateTimeField()
    active = BooleanField(default=True)


class Question(BaseModel):
    id = CharField(max_length=64)
    version = IntegerField()
    scale = TextField()
    audience = TextField()
    text = TextField(default="{}")          # JSON {lang: wording}
    first_seen = DateTimeField()

    class Meta:
        primary_key = CompositeKey("id", "version")


class Response(BaseModel):
    id = CharField(primary_key=True, max_length=36)
    kiosk_id = CharField(max_length=64)
    site_id = CharField(max_length=64)
    seq = BigIntegerField()
    question_id = CharField(max_length=64)
    question_version = IntegerField()
    scale = TextField()
    value = IntegerField()
    audience = TextField()
    language = TextField()
    recorded_at = DateTimeField()           # best known UTC time (corrected when possible)
    kiosk_recorded_at = DateTimeField()     # what the kiosk's clock said
    clock_synced = BooleanField()
    time_status = TextField()               # synced | corrected | uncorrected
    boot_id = TextField()
    monotonic_ns = BigIntegerField()
    filtered = TextField(null=True)
    received_at = DateTimeField()
    batch = TextField(null=True)


class FollowUp(BaseModel):
    id = CharField(primary_key=True, max_length=36)
    response_id = CharField(max_length=36)
    kiosk_id = CharField(max_length=64)
    seq = BigIntegerField()
    reasons = TextField()                   # JSON array of reason codes
    comment = TextField(null=True)
    recorded_at = DateTimeField()           # best known UTC time (corrected when possible)
    received_at = DateTimeField()
    kiosk_recorded_at = DateTimeField(null=True)    # m0010: what the kiosk's clock said
    clock_synced = BooleanField(null=True)
    time_status = TextField(null=True)      # synced | corrected | uncorrected
    boot_id = TextField(null=True)
    monotonic_ns = BigIntegerField(null=True)

    class Meta:
        table_name = "followup"

    @property
    def reason_codes(self) -> list[str]:
        return json.loads(self.reasons)


class FollowUpReason(BaseModel):
    """One row per reason of a follow-up, so Pareto and driver queries stay plain SQL."""
    followup_id = CharField(max_length=36)
    response_id = CharField(max_length=36)
    reason = CharField(max_length=64)

    class Meta:
        table_name = "followup_reason"
        primary_key = CompositeKey("followup_id", "reason")


class DeadLetter(BaseModel):
    id = BigIntegerField(primary_key=True)
    received_at = DateTimeField()
    topic = TextField()
    kiosk_id = TextField(null=True)
    reason = TextField()
    payload = BlobField()

    class Meta:
        table_name = "dead_letter"


class Conflict(BaseModel):
    id = BigIntegerField(primary_key=True)
    event_id = CharField(max_length=36)
    kiosk_id = TextField()
    received_at = DateTimeField()
    existing = TextField()
    incoming = TextField()


class KioskStatus(BaseModel):
    kiosk_id = CharField(primary_key=True, max_length=64)
    online = BooleanField()
    last_seen = DateTimeField()
    version = TextField(null=True)
    outbox_depth = IntegerField(null=True)
    oldest_unacked_s = IntegerField(null=True)
    clock_synced = BooleanField(null=True)
    disk_free_mb = IntegerField(null=True)
    config_version = IntegerField(null=True)
    config_error = TextField(null=True)
    payload = TextField(default="{}")

    class Meta:
        table_name = "kiosk_status"

    def as_dict(self) -> dict[str, Any]:
        return json.loads(self.payload or "{}")


class ConfigPush(BaseModel):
    id = BigIntegerField(primary_key=True)
    kiosk_id = CharField(max_length=64)
    version = IntegerField()
    payload = TextField()
    pushed_at = DateTimeField()

    class Meta:
        table_name = "config_push"


class ClockAnchor(BaseModel):
    """m0010: the first synced event of a kiosk's boot; pre-sync times are corrected from it."""
    kiosk_id = CharField(max_length=64)
    boot_id = CharField(max_length=36)
    recorded_at = DateTimeField()
    monotonic_ns = BigIntegerField()

    class Meta:
        table_name = "clock_anchor"
        primary_key = CompositeKey("kiosk_id", "boot_id")


class FollowUpPending(BaseModel):
    """m0011: a follow-up stored before its answer; its reasons are counted when the answer comes."""
    response_id = CharField(max_length=36)
    followup_id = CharField(max_length=36)

    class Meta:
        table_name = "followup_pending"
        primary_key = CompositeKey("response_id", "followup_id")


class RollupHourly(BaseModel):
    """Answer counts per site, kiosk, question, audience, value and UTC hour (unfiltered only)."""
    site_id = CharField(max_length=64)
    kiosk_id = CharField(max_length=64)
    question_id = CharField(max_length=64)
    audience = TextField()
    scale = TextField()
    value = IntegerField()
    hour = DateTimeField()                  # UTC start of the hour
    local_date = TextField()                # site-local date (YYYY-MM-DD) of that hour
    local_hour = IntegerField()             # site-local hour 0-23
    weekday = IntegerField()                # site-local weekday, 0 = Monday
    n = IntegerField()

    class Meta:
        table_name = "rollup_hourly"
        primary_key = CompositeKey("site_id", "kiosk_id", "question_id", "audience", "value", "hour")


MODELS = (Site, Kiosk, Question, Response, FollowUp, FollowUpReason, DeadLetter, Conflict,
          KioskStatus, ConfigPush, ClockAnchor, FollowUpPending, RollupHourly)
