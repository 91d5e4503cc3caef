"""The erasure's reach into what office users wrote, and the copies the notices made of it: a store
manager quoting a customer ("Kunden skrev: Lisa Lundqvist …") in an alert's comment, an
acknowledgement, a closing reason or an action's note kept the words for good, shown on the web,
in the HTML report and the BI views, and copied into the mails and webhooks of the notices (a
privacy review). `erase_office_text` replaces the words, in any case (`dialect.fold`, as the
comments are searched), with ERASED wherever they stand; the rest of each text stays (it is the
chain's record of what it did). What rules wrote (an alert's message, its facts) and who did what
(owners, user names) are no one's quote and are not searched. Pure text functions apart from
the one that reads and writes the store.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from typing import Any, Callable

from peewee import Database

from server_sync.central.dialect import fold

ERASED = "[erased]"

# A closing as workflow.alerts writes it in the history and in ack_comment ("none: reason",
# "action 6: reason", "duplicate of 5: reason"): only the reason is a person's words, and the
# web reads the parts back (workflow.alerts.closed_detail), so the head stays as it is.
_CLOSING_HEAD = re.compile(r"(?:none|action \d+|duplicate of \d+): ")


def erased(text: str | None, needle: str) -> str | None:
    """`text` with every `needle` in it, in any case, replaced by ERASED; None when it holds none.
    Should the case-blind pattern miss what `fold` finds (a letter whose lower case is longer),
    the whole text goes."""
    if not text or fold(needle) not in fold(text):
        return None
    composed = unicodedata.normalize("NFC", text)
    out = re.sub(re.escape(unicodedata.normalize("NFC", needle)), ERASED, composed, flags=re.IGNORECASE)
    return ERASED if fold(needle) in fold(out) else out


def erased_keeping_closing(text: str | None, needle: str) -> str | None:
    """`erased`, the head of a closing (_CLOSING_HEAD) kept as it is."""
    head = _CLOSING_HEAD.match(text or "")
    if head is None:
        return erased(text, needle)
    rest = erased(text[head.end():], needle)
    return None if rest is None else head.group() + rest


def erased_html(text: str | None, needle: str) -> str | None:
    """`erased` for an HTML body, where the words stand escaped (`&amp;` for `&`)."""
    if not text or fold(needle) not in fold(html.unescape(text)):
        return None
    out = text
    # As html.escape writes the words, and as Jinja's markupsafe does (&#39; and &#34; for the
    # quotes: a mail's HTML body); a form not found left the whole body [erased].
    escaped = html.escape(needle)
    markup = escaped.replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    for form in dict.fromkeys((needle, html.escape(needle, quote=False), escaped, markup)):
        out = erased(out, form) or out
    return ERASED if fold(needle) in fold(html.unescape(out)) else out


def erased_json(text: str | None, needle: str) -> str | None:
    """`erased` in every string of a JSON body (a webhook's: its escapes read), written back as
    notify.bodies writes it; a body that is no JSON is taken as text."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return erased(text, needle)
    changed = [False]

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            new = erased(value, needle)
            changed[0] |= new is not None
            return value if new is None else new
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    out = walk(data)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) if changed[0] else None


# kind -> (table, {column: how its text is erased}, which rows). The alert's history: only the
# events whose detail a person wrote (a comment, an acknowledgement's, a closing's reason).
Eraser = Callable[[str | None, str], str | None]
PLACES: dict[str, tuple[str, dict[str, Eraser], str]] = {
    "alert_history": ("alert_event", {"detail": erased_keeping_closing},
                      "event IN ('comment', 'acknowledged', 'closed')"),
    "alert_acknowledgements": ("alert", {"ack_comment": erased_keeping_closing}, "ack_comment IS NOT NULL"),
    "close_reasons": ("alert", {"outcome_reason": erased}, "outcome_reason IS NOT NULL"),
    "action_notes": ("action", {"note": erased}, "1 = 1"),
    "mails": ("mail_outbox", {"subject": erased, "text_body": erased, "html_body": erased_html}, "1 = 1"),
    "webhook_deliveries": ("webhook_delivery", {"body": erased_json}, "1 = 1"),
}


def erase_office_text(db: Database, needle: str, *, dry_run: bool = False) -> dict[str, int]:
    """In the caller's transaction: the words `needle` out of every place of PLACES; how many rows
    of each kind held them (changed unless `dry_run`). A mail or a webhook a worker is sending at
    this moment goes as it read it; one waiting goes with the words erased."""
    p = db.param
    counts = {}
    for kind, (table, columns, where) in PLACES.items():
        names = list(columns)
        found, last = 0, 0
        while True:
            rows = db.execute_sql(f"SELECT id, {', '.join(names)} FROM {table} WHERE {where} AND id > {p}"
                                  f" ORDER BY id LIMIT 1000", (last,)).fetchall()
            if not rows:
                break
            for row_id, *texts in rows:
                new = {name: out for name, text in zip(names, texts)
                       if (out := columns[name](text, needle)) is not None}
                if not new:
                    continue
                found += 1
                if not dry_run:
                    db.execute_sql(f"UPDATE {table} SET {', '.join(f'{n} = {p}' for n in new)} WHERE id = {p}",
                                   (*new.values(), row_id))
            last = rows[-1][0]
        counts[kind] = found
    return counts
