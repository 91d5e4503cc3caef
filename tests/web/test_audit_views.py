"""audit.ViewLedger: which comment views are audited. A live refresh of a view the session was
audited for is not audited again; anything else is, the live header notwithstanding."""

from __future__ import annotations

from server_sync.web.audit import ViewLedger


def test_a_live_refresh_of_an_audited_view_is_not_audited_again():
    ledger = ViewLedger()
    assert ledger.audit_due("s1", "/comments?q=a", live=False)
    assert not ledger.audit_due("s1", "/comments?q=a", live=True)
    assert ledger.audit_due("s1", "/comments?q=a", live=False)           # a person's own look: again


def test_the_live_header_alone_skips_nothing():
    ledger = ViewLedger()
    assert ledger.audit_due("s1", "/comments?q=a", live=True)            # never seen: audited
    assert ledger.audit_due("s2", "/comments?q=b", live=False)
    assert ledger.audit_due("s1", "/comments?q=b", live=True)            # another session's view
    assert ledger.audit_due(None, "/api/v1/comments", live=True)         # no session: every call
    assert ledger.audit_due(None, "/api/v1/comments", live=True)


def test_the_ledger_forgets_the_oldest_views_first():
    ledger = ViewLedger(size=2)
    for view in ("a", "b", "c"):
        assert ledger.audit_due("s", view, live=False)
    assert ledger.audit_due("s", "a", live=True)                          # forgotten: audited again
    assert not ledger.audit_due("s", "c", live=True)

