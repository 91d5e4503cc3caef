"""An erasure reaches what office users wrote too: a store manager who quoted the customer in an
alert's comment, an acknowledgement, a closing reason or an action's note had the words kept for
good, shown on the web, in the HTML report and the BI views, and copied into the mails and
webhooks of the notices (a privacy review: `erase` said "removed 1 comment" and left them all).
The words become "[erased]" in each, the rest of the text stays; the counts say where. On SQLite
and PostgreSQL."""

from __future__ import annotations

import html
import json
from datetime import timedelta

from server_sync.central.dialect import fold
from server_sync.central.retention import erase_comments, privacy_log
from server_sync.cli import main
from server_sync.workflow import actions, alerts, notices
from tests.central.test_workflow import MONDAY_10, _dip, world  # noqa: F401  (world: a fixture)

LATER = MONDAY_10 + timedelta(hours=1)
NAMED = "Kunden skrev: Lisa Lundqvist väntade 20 min, ring 0701234567"


def _texts(db) -> dict[str, list[str]]:
    """Every office user's text and every notice's copy, by where it is kept."""
    q = lambda sql: [r[0] for r in db.execute_sql(sql).fetchall() if r[0] is not None]     # noqa: E731
    return {"alert_event": q("SELECT detail FROM alert_event ORDER BY id"),
            "ack_comment": q("SELECT ack_comment FROM alert ORDER BY id"),
            "outcome_reason": q("SELECT outcome_reason FROM alert ORDER BY id"),
            "note": q("SELECT note FROM action ORDER BY id"),
            "v_actions": q("SELECT note FROM v_actions ORDER BY id"),
            "mail": [s for r in db.execute_sql("SELECT subject, text_body, html_body FROM mail_outbox ORDER BY id")
                     for s in (r[0], r[1], html.unescape(r[2]))],
            "webhook": q("SELECT body FROM webhook_delivery ORDER BY id")}


def _holding(texts: dict[str, list[str]], words: str) -> dict[str, int]:
    return {k: n for k, v in texts.items() if (n := sum(fold(words) in fold(t) for t in v))}


def test_erase_takes_the_words_out_of_what_office_users_wrote_and_its_copies(world, central_url, capsys):
    db = world
    first, second, other = _dip(db), _dip(db, "s1", MONDAY_10 + timedelta(days=2)), _dip(db, "s2")
    alerts.comment(db, first["id"], NAMED, "sara", LATER)
    alerts.acknowledge(db, first["id"], "sara", LATER, "Ringt LISA LUNDQVIST i dag")
    alerts.close(db, first["id"], "none", "sara", LATER, reason="Lisa Lundqvist fick en kupong")
    alerts.close(db, second["id"], "action", "sara", LATER,
                 new_action={"note": "Extra kassa efter klagomål från Lisa Lundqvist", "action_type": "staffing"})
    alerts.comment(db, other["id"], "Två kassörer sjuka", "nils", LATER)                # holds no words: stays
    act = actions.list_actions(db, now=LATER)[0]
    # The action's close notice quotes its note: a webhook (Slack) and a mail to its owner.
    notices.action_closed(db, dict(act, verdict="effect_shown", verdict_detail={"diff": 5.0, "low": 1.0, "high": 9.0}),
                          LATER)
    before = _holding(_texts(db), "Lisa Lundqvist")
    assert {"alert_event", "ack_comment", "outcome_reason", "note", "v_actions", "mail", "webhook"} <= set(before)

    counts = {"comments": 0, "conflicts": 0, "dead_letters": 0, "audit_searches": 0, "alert_history": 3,
              "alert_acknowledgements": 1, "close_reasons": 1, "action_notes": 1, "mails": 1, "webhook_deliveries": 1}
    assert erase_comments(db, "lisa lundqvist", LATER, dry_run=True).counts == counts
    assert _holding(_texts(db), "Lisa Lundqvist") == before                              # a dry run changes nothing
    capsys.readouterr()
    assert main(["--db", central_url, "erase", "--contains", "Lisa Lundqvist"]) == 0
    out = capsys.readouterr()
    assert "3 alert history entries, 1 acknowledgement, 1 closing reason, 1 action note" in out.out
    assert "1 mail, 1 webhook delivery (the notices' copies)" in out.out and "no comment matched" not in out.err
    texts = _texts(db)
    assert _holding(texts, "Lisa Lundqvist") == {}
    # Only the words go: the rest of what was written stays (erase each thing that names someone).
    assert "Kunden skrev: [erased] väntade 20 min, ring 0701234567" in texts["alert_event"]
    assert "Ringt [erased] i dag" in texts["ack_comment"] and "Två kassörer sjuka" in texts["alert_event"]
    assert texts["note"] == ["Extra kassa efter klagomål från [erased]"] == texts["v_actions"]
    # The history's closing still reads as one (the web says it in words from its parts).
    closing = [e["detail"] for e in alerts.require(db, first["id"], LATER)["history"] if e["event"] == "closed"]
    assert alerts.closed_detail(closing[0]) == {"outcome": "none", "action_id": None, "duplicate_of": None,
                                                "reason": "[erased] fick en kupong"}
    hook = json.loads(db.execute_sql("SELECT body FROM webhook_delivery WHERE event = 'action.closed'").fetchone()[0])
    assert "[erased]" in json.dumps(hook, ensure_ascii=False)
    assert "Extra kassa efter klagomål från [erased]" in db.execute_sql(
        "SELECT html_body FROM mail_outbox ORDER BY id DESC").fetchone()[0]             # the action's, last
    assert privacy_log(db)[0]["counts"] == counts
    assert erase_comments(db, "Lisa Lundqvist", LATER).counts == dict.fromkeys(counts, 0)
    assert "lundqvist" not in json.dumps(privacy_log(db)).lower()


def test_the_words_in_any_case_and_several_times_in_a_text():
    from server_sync.central.office_text import erased, erased_html, erased_json
    assert erased("LISA lundqvist och Lisa Lundqvist igen", "lisa lundqvist") == "[erased] och [erased] igen"
    assert erased("ÖBERG ringde", "öberg") == "[erased] ringde"
    assert erased("inget här", "lisa") is None
    assert erased_html("<td>Tom &amp; Lisa &lt;3</td>", "tom & lisa") == "<td>[erased] &lt;3</td>"
    # A mail's HTML as Jinja escapes it (&#39;): only the words go, not the whole body.
    from markupsafe import escape
    body = "<p>" + str(escape("Kunden skrev: Anna O'Brien väntade")) + "</p><p>Larm 12 på s1</p>"
    assert erased_html(body, "o'brien") == "<p>Kunden skrev: Anna [erased] väntade</p><p>Larm 12 på s1</p>"
    quoted = "<p>" + str(escape('Han sa "Lisa" igen')) + "</p>"
    assert erased_html(quoted, '"lisa"') == "<p>Han sa [erased] igen</p>"
    body = json.dumps({"text": "Note: Lisa Lundqvist", "n": 3, "facts": [["a", "lisa lundqvist"]]}, ensure_ascii=False)
    assert json.loads(erased_json(body, "Lisa Lundqvist")) == {"text": "Note: [erased]", "n": 3,
                                                              "facts": [["a", "[erased]"]]}
