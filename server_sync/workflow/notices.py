"""The notices each step of the workflow queues: an alert raised (every webhook, and a mail to its
owner), an alert reassigned (every webhook, and a mail to the new owner), an action closed with its
verdict (every webhook, and a mail to its owner). Mails are in the recipient's language (sv, nb, en), with a
plain-text and an HTML part; webhooks get English (a channel has no one language).

Only ever INSERTs into the notify queue, in the caller's transaction (server_sync.notify.queue):
never a network call, so raising an alert in ingest cannot wait on a receiver.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from peewee import Database

from server_sync.central.setting import get_setting
from server_sync.exc import CentralConfigError
from server_sync.notify import queue
from server_sync.notify.bodies import Notice
from server_sync.report.alert_text import alert_text
from server_sync.report.figures import figure
from server_sync.web import render
from server_sync.workflow.people import email_of, language_of

log = logging.getLogger(__name__)

WEB_URL_SETTING = "web_url"          # the web app's address, for links in notices (notify web-url)
WEBHOOK_LANGUAGE = "en"


def web_url(db: Database, path: str) -> str | None:
    base = (get_setting(db, WEB_URL_SETTING, "") or "").rstrip("/")
    return f"{base}{path}" if base else None


def site_name(db: Database, site_id: str) -> str:
    row = db.execute_sql(f"SELECT name FROM site WHERE id = {db.param}", (site_id,)).fetchone()
    return row[0] if row and row[0] else site_id


def mail_bodies(lang: str, title: str, intro: str, facts: list[tuple[str, str]], url: str | None,
                text_after: str = "") -> tuple[str, str]:
    """(plain text, HTML) of a notice mail."""
    t = lambda key, **v: render.text(key, lang, **v)      # noqa: E731
    lines = [title, "", intro, ""] + [f"{k}: {v}" for k, v in facts]
    if text_after:
        lines += ["", text_after]
    if url:
        lines += ["", f"{t('mail_open_link')}: {url}"]
    lines += ["", "-- ", t("mail_footer")]
    html = render.ENV.get_template("mail/notice.html").render(
        lang=lang, title=title, intro=intro, facts=facts, url=url, text_after=text_after, text=t)
    return "\n".join(lines) + "\n", html


def _alert_facts(db: Database, alert: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    t = lambda key: render.text(key, lang)      # noqa: E731
    return [(t("site"), site_name(db, alert["site_id"])), (t("question"), alert["question_id"]),
            (t("kind"), alert["kind"]), (t("owner"), alert.get("owner") or "-"),
            (t("due_date"), alert.get("due_date") or "-")]


def _mail(db: Database, to_user: str | None, subject_key: str, intro_key: str, facts_of, url: str | None,
          now: datetime, alert: dict[str, Any] | None = None, **values: Any) -> bool:
    address = email_of(db, to_user)
    if not address:
        return False
    lang = language_of(db, to_user)
    subject = render.text(subject_key, lang, **values)
    text_body, html_body = mail_bodies(lang, subject, render.text(intro_key, lang, **values), facts_of(lang), url,
                                       alert_text(alert, lang) if alert is not None else "")
    try:
        queue.enqueue_mail(db, address, subject, text_body, html_body, now)
    except CentralConfigError as e:
        # An address stored before addresses were checked (or edited in the database): one
        # person's bad address must not stop the notice's webhooks, the alert's workflow or
        # the closing of everyone else's actions. Said in the log; the web app shows the address.
        log.warning("no mail to %s: %s", to_user, e)
        return False
    return True


def alert_raised(db: Database, alert: dict[str, Any], now: datetime) -> None:
    site = site_name(db, alert["site_id"])
    url = web_url(db, f"/alerts/{alert['id']}")
    lang = WEBHOOK_LANGUAGE
    queue.enqueue_webhooks(db, Notice("alert.raised", render.text("mail_alert_raised_subject", lang, site=site,
                                                                   id=alert["id"]),
                                      alert.get("message", ""), alert["site_id"], url,
                                      tuple(_alert_facts(db, alert, lang))), now)
    _mail(db, alert.get("owner"), "mail_alert_raised_subject", "mail_alert_raised_intro",
          lambda lg: _alert_facts(db, alert, lg), url, now, alert, site=site, id=alert["id"])


def alert_assigned(db: Database, alert: dict[str, Any], by: str | None, now: datetime) -> None:
    """A reassignment: the channel hears who owns it now (a team's channel is where a handover is
    seen), the new owner gets a mail."""
    site = site_name(db, alert["site_id"])
    url = web_url(db, f"/alerts/{alert['id']}")
    lang = WEBHOOK_LANGUAGE
    queue.enqueue_webhooks(db, Notice("alert.assigned", render.text("webhook_alert_assigned_subject", lang, site=site,
                                                                    id=alert["id"], owner=alert.get("owner"),
                                                                    by=by or "Kundpuls"),
                                      alert.get("message", ""), alert["site_id"], url,
                                      tuple(_alert_facts(db, alert, lang))), now)
    _mail(db, alert.get("owner"), "mail_alert_assigned_subject", "mail_alert_assigned_intro",
          lambda lg: _alert_facts(db, alert, lg), url, now, alert, site=site,
          id=alert["id"], by=by or "Kundpuls")


def _action_facts(db: Database, action: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    t = lambda key: render.text(key, lang)      # noqa: E731
    effect = (action.get("verdict_detail") or {})
    diff = effect.get("diff")
    signed = lambda v: figure(float(v), lang, signed=True)      # noqa: E731
    figures = "-" if diff is None else f"{signed(diff)} [{signed(effect.get('low'))}, {signed(effect.get('high'))}]"
    return [(t("site"), site_name(db, action["site_id"])), (t("question"), action["question_id"]),
            (t("action_note"), action["note"]), (t("action_date"), action["date"]),
            (t("verdict"), t("verdict_" + action["verdict"])), (t("effect"), figures)]


def action_closed(db: Database, action: dict[str, Any], now: datetime) -> None:
    site = site_name(db, action["site_id"])
    url = web_url(db, f"/actions/{action['id']}")
    lang = WEBHOOK_LANGUAGE
    values = dict(site=site, id=action["id"])
    queue.enqueue_webhooks(db, Notice("action.closed", render.text("mail_action_closed_subject", lang,
                                                                    verdict=render.text("verdict_" + action["verdict"],
                                                                                        lang), **values),
                                      action["note"], action["site_id"], url,
                                      tuple(_action_facts(db, action, lang))), now)
    owner = action.get("owner")
    if email_of(db, owner):
        olang = language_of(db, owner)
        _mail(db, owner, "mail_action_closed_subject", "mail_action_closed_intro",
              lambda lg: _action_facts(db, action, lg), url, now,
              verdict=render.text("verdict_" + action["verdict"], olang), **values)
