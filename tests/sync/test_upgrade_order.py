"""Which centre a kiosk of this software can talk to, said where an operator upgrades. The
centre's decoder refuses a field it does not know (nothing personal can ride along), so a kiosk
needs a centre that knows every field it sends, while a centre takes what older kiosks send
(their fields are a part of its own). Kiosks from 2026-12-02 on send `unsent` with every
follow-up, which the centre knows from m0014_followup_unsent (the same commit, fc06759) on;
docs/deployment.md said kiosks were updated "before or after" the centre, and a kiosk updated
first had its follow-ups refused by an older centre (a review of upgrades)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server_sync import protocol
from server_sync.central import migrations
from server_sync.protocol.events import FollowUpEvent, ResponseEvent
from server_sync.protocol.messages import Status

ROOT = Path(__file__).resolve().parents[2]
OLDEST_CENTRE = "m0014_followup_unsent"

# What a centre at OLDEST_CENTRE decodes (commit fc06759, read from its protocol): a field beyond
# these is refused there as unknown, every answer of its batch or the event for good.
CENTRE_KNOWS = {
    "batch": {"schema", "kiosk_id", "batch", "events"},
    "response": {"id", "seq", "kiosk_id", "recorded_at", "clock_synced", "boot_id", "monotonic_ns", "site_id",
                 "question_id", "question_version", "scale", "value", "audience", "language", "filtered"},
    "followup": {"id", "seq", "kiosk_id", "recorded_at", "clock_synced", "boot_id", "monotonic_ns", "response_id",
                 "reasons", "comment", "unsent"},
    "status": {"schema", "online", "version", "outbox_depth", "oldest_unacked_s", "clock_synced", "disk_free_mb",
               "config_version", "config_error", "ts", "rejected"},
}
# Sent since, only with a batch holding answers recorded before the clock synced (their boots'
# clock anchors): a centre from before dead-letters that batch unacknowledged, and the kiosk sends
# it again until the centre is upgraded (said in A9 and docs/sync.md).
LATER = {"batch": {"anchors"}}


def test_a_kiosk_sends_nothing_the_oldest_centre_named_in_the_docs_refuses():
    """A field added to what a kiosk sends makes the centres before it refuse it: name the
    migration of the first centre that takes it as OLDEST_CENTRE, here and in the docs."""
    status = json.loads(protocol.encode_status(online=True, version="0.2.0", outbox_depth=1, oldest_unacked_s=1,
                                               clock_synced=True, disk_free_mb=1, config_version=1,
                                               config_error="x", ts="2026-12-07T08:00:00.000Z", rejected=1))
    anchor = protocol.Anchor("11111111-1111-4111-8111-111111111111", "2026-12-07T08:00:00.000Z", 1)
    sent = {"batch": set(json.loads(protocol.encode_batch("k1", "b.1", [], [anchor]))) - LATER["batch"],
            "response": set(ResponseEvent.__struct_fields__), "followup": set(FollowUpEvent.__struct_fields__),
            "status": set(status)}
    assert sent == CENTRE_KNOWS, ("a kiosk sends fields older centres refuse: name the first centre that takes them "
                                  "(its migration) as OLDEST_CENTRE, in docs/deployment.md A9 and B8 and docs/sync.md")
    assert OLDEST_CENTRE in {name for _, name in migrations.available()}


def _between(text: str, start: str, end: str) -> str:
    m = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, re.S)
    assert m, f"no section from {start!r} to {end!r}"
    return m.group(1)


def test_the_docs_say_to_upgrade_the_centre_first_and_how_to_check_it():
    deployment = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    a9 = _between(deployment, "### A9.", "### A10.")
    b8 = _between(deployment, "### B8.", "\n---")
    refused = _between(deployment, "### Answers the centre refused for good", "### Moving a kiosk")
    sync = (ROOT / "docs" / "sync.md").read_text(encoding="utf-8")
    for where, text in (("A9", a9), ("B8", b8), ("docs/sync.md", sync)):
        assert f"`{OLDEST_CENTRE}`" in text, f"{where} does not name the oldest centre a kiosk talks to"
    assert "before or after" not in a9
    assert "SELECT MAX(number) FROM schema_migration" in a9          # how an operator tells
    assert "kiosk refused retry" in a9 and "unknown field `unsent`" in refused
    for where, text in (("A9", a9), ("docs/sync.md", sync)):
        assert all(f"`{field}`" in text for field in LATER["batch"]), f"{where} does not say what an older centre refuses"
