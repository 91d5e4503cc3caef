"""The notices each step of the workflow queues: an alert raised (every webhook, and a mail to its
owner), an alert reassigned (every webhook, and a mail to the new owner), an action closed with its
verdict (every webhook, and a mail to its owner, or to its site's store manager once the owner may
no longer act there); a kiosk flagged or well again (every webhook, and
a mail to its site's store manager); several kiosks silent at once, never heard from or heard
again (every webhook, and one mail to each admin: `workflow.kiosk_watch` decides when). Mails are
in the recipient's language (sv, nb, en), with a plain-text and an HTML part; webhooks get English
(a channel has no one language).

Only ever INSERTs into the notify queue, in the caller's transaction (server_sync.notify.queue):
never a network call, so raising an alert in ingest cannot wait on a receiver.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis.chain_report import local_time
from server_sync.central.registry import site_zones
from server_sync.central.setting import get_setting
from server_sync.exc import CentralConfigError
from server_sync.notify import queue
from server_sync.notify.bodies import Notice
from server_sync.report.collation import sort_key
from server_sync.report.alert_text import alert_kind, alert_text
from server_sync.report.figures import figure
from server_sync.web import render
from server_sync.web.people import ADMIN, user_by_name
from server_sync.web.queries import question_words
from server_sync.workflow.people import email_of, language_of, still_may_own, store_manager_of, with_email

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
    lines = [title, "", intro] + ([""] + [f"{k}: {v}" for k, v in facts] if facts else [])
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
    # The question by its wording and the kind in words, as the alert's page says them (the
    # Swedish mail read "Typ: realtime", "Fråga: visit").
    question = question_words(db, lang).get(alert["question_id"], alert["question_id"])
    # When it was raised, on the site's clock with its zone, as the digest says it: its text's
    # "the day up to the alert" is that day, and a mail held through an SMTP outage arrives later.
    raised = local_time(alert.get("raised_at"), site_zones(db, [alert["site_id"]])[alert["site_id"]])
    return [(t("site"), site_name(db, alert["site_id"])), (t("question"), question),
            (t("kind"), alert_kind(alert["kind"], lang)), (t("raised"), raised or "-"),
            (t("owner"), alert.get("owner") or "-"), (t("due_date"), alert.get("due_date") or "-")]


def _mail(db: Database, to_user: str | None, about: Iterable[str], subject_key: str, intro_key: str, facts_of,
          url: str | None, now: datetime, after_of: Callable[[str], str] | None = None, **values: Any) -> bool:
    """Mail `to_user` (if they have an address) in their language about the sites `about` (asked
    again when it is sent: `people.mail_recipient_now`); `after_of(lang)`: a paragraph after the
    facts. A value given as a function of the language is said in theirs."""
    address = email_of(db, to_user)
    if not address:
        return False
    person = user_by_name(db, to_user)
    lang = person.language if person else language_of(db, to_user)
    values = {k: v(lang) if callable(v) else v for k, v in values.items()}
    subject = render.text(subject_key, lang, **values)
    text_body, html_body = mail_bodies(lang, subject, render.text(intro_key, lang, **values), facts_of(lang), url,
                                       after_of(lang) if after_of is not None else "")
    try:
        queue.enqueue_mail(db, address, subject, text_body, html_body, now, user_id=person.id if person else None,
                           sites=about)
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
    _mail(db, alert.get("owner"), [alert["site_id"]], "mail_alert_raised_subject", "mail_alert_raised_intro",
          lambda lg: _alert_facts(db, alert, lg), url, now, partial(alert_text, alert), site=site, id=alert["id"])


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
    _mail(db, alert.get("owner"), [alert["site_id"]], "mail_alert_assigned_subject", "mail_alert_assigned_intro",
          lambda lg: _alert_facts(db, alert, lg), url, now, partial(alert_text, alert), site=site,
          id=alert["id"], by=by or "Kundpuls")


def _action_facts(db: Database, action: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    t = lambda key: render.text(key, lang)      # noqa: E731
    effect = (action.get("verdict_detail") or {})
    diff = effect.get("diff")
    signed = lambda v: figure(float(v), lang, signed=True)      # noqa: E731
    figures = "-" if diff is None else f"{signed(diff)} [{signed(effect.get('low'))}, {signed(effect.get('high'))}]"
    question = question_words(db, lang).get(action["question_id"], action["question_id"])    # its words, as an alert's
    return [(t("site"), site_name(db, action["site_id"])), (t("question"), question),
            (t("action_note"), action["note"]), (t("action_date"), action["date"]),
            (t("verdict"), t("verdict_" + action["verdict"])), (t("effect"), figures)]


def action_recipient(db: Database, action: dict[str, Any]) -> str | None:
    """Who is mailed that `action` closed: its owner while they may still act at its site, else
    the site's store manager (as an alert's owner who may no longer act falls back). The mail
    carries the site's note, verdict and effect: an owner disabled or moved to other sites since
    the action was logged (weeks ago, by the after-window) may no longer read them."""
    return still_may_own(db, action.get("owner"), action["site_id"]) or store_manager_of(db, action["site_id"])


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
    _mail(db, action_recipient(db, action), [action["site_id"]], "mail_action_closed_subject", "mail_action_closed_intro",
          lambda lg: _action_facts(db, action, lg), url, now,
          verdict=lambda lg: render.text("verdict_" + action["verdict"], lg), **values)


def _kiosk_facts(kiosk: dict[str, Any], lang: str, since: object = None) -> list[tuple[str, str]]:
    """A kiosk's facts, its times on its site's clock."""
    t = lambda key: render.text(key, lang)      # noqa: E731
    zone = ZoneInfo(kiosk["timezone"])
    facts = [(t("site"), kiosk["site_name"]), (t("kiosk"), kiosk["kiosk_id"]),
             (t("last_seen"), local_time(kiosk["last_seen"], zone) or t("never"))]
    if since is not None:
        facts.append((t("kiosk_flagged_since"), local_time(since, zone) or "-"))
    return facts


def kiosk_what(kiosk: dict[str, Any], lang: str) -> str:
    """What a flagged kiosk needs, in a notice's words (the fleet page's flag column adds what
    the technician does, `render.flag_words`)."""
    kind = kiosk["flag_kind"]
    return render.text("kiosk_what_" + kind, lang, mb=figure(kiosk["disk_free_mb"], lang),
                       n=figure(kiosk["rejected"], lang), h=figure((kiosk["oldest_unacked_s"] or 0) / 3600, lang),
                       counted=kiosk["rejected"] if kind == "held" else None)


def _kiosk_notice(db: Database, event: str, kiosk: dict[str, Any], subject_key: str, intro_key: str,
                  what: Callable[[str], str], after_of: Callable[[str], str], since: object, now: datetime,
                  **more: str) -> None:
    url = web_url(db, f"/fleet?site={kiosk['site_id']}")
    lang = WEBHOOK_LANGUAGE
    values = dict(kiosk=kiosk["kiosk_id"], site=kiosk["site_name"], **more)
    intro = render.text(intro_key, lang, what=what(lang), **values)
    queue.enqueue_webhooks(db, Notice(event, render.text(subject_key, lang, what=what(lang), **values),
                                      f"{intro} {after_of(lang)}".strip(), kiosk["site_id"], url,
                                      tuple(_kiosk_facts(kiosk, lang, since))), now)
    _mail(db, store_manager_of(db, kiosk["site_id"]), [kiosk["site_id"]], subject_key, intro_key,
          lambda lg: _kiosk_facts(kiosk, lg, since), url, now, after_of, what=what, **values)


def kiosk_flagged(db: Database, kiosk: dict[str, Any], now: datetime) -> None:
    """A kiosk (its `analysis.fleet` row) needs a person: what, and what to do about it."""
    _kiosk_notice(db, "kiosk.flagged", kiosk, "kiosk_flagged_subject", "kiosk_flagged_intro",
                  partial(kiosk_what, kiosk), lambda lg: render.text("kiosk_hint_" + kiosk["flag_kind"], lg),
                  None, now)


def kiosk_recovered(db: Database, kiosk: dict[str, Any], was: str, since: object, now: datetime) -> None:
    """A kiosk told as flagged (`was`, since `since`) is well again."""
    _kiosk_notice(db, "kiosk.recovered", kiosk, "kiosk_recovered_subject", "kiosk_recovered_intro",
                  lambda lg: render.text("flag_kind_" + was, lg), lambda lg: "", since, now)


def kiosk_awaited(db: Database, kiosk: dict[str, Any], was: str, since: object, now: datetime) -> None:
    """A kiosk told as flagged (`was`, since `since`) is put off to a later installation day: not
    expected before it, so what was told is over."""
    _kiosk_notice(db, "kiosk.awaited", kiosk, "kiosk_awaited_subject", "kiosk_awaited_intro",
                  lambda lg: render.text("flag_kind_" + was, lg), lambda lg: "", since, now, day=kiosk["installs_on"])


FLEET_LISTED = 20          # kiosks named in one notice to the admins; the rest are counted


ROTATE = "kiosk-central kiosk add {kiosk} --site {site} --rotate-password"     # a copied card's remedy


def _kiosk_list(kiosks: list[dict[str, Any]], lang: str, under: Callable[[dict[str, Any]], str] | None = None,
                day: bool = False, every: bool = False) -> str:
    """"k1 (Store 1, last seen 2026-11-23 13:00 CET)", one a line (with `under`, a line of its own
    under each: the command that ends it, say): the first FLEET_LISTED (`every`: all), then how
    many more."""
    def said(k: dict[str, Any]) -> str:
        seen = local_time(k["last_seen"], ZoneInfo(k["timezone"]))
        line = f"{k['kiosk_id']} ({k['site_name']}" + (f", {render.text('last_seen', lang).lower()} {seen}"
                                                        if seen else "") + (
            f", {render.text('awaited_until', lang, day=k['installs_on'])})" if day else ")")
        return line + ("\n    " + under(k) if under else "")
    listed = len(kiosks) if every else FLEET_LISTED
    shown = sorted(kiosks, key=lambda k: (sort_key(k["site_name"], lang), sort_key(k["kiosk_id"], lang)))[:listed]
    more = len(kiosks) - listed
    return "\n".join([said(k) for k in shown] + ([render.text("digest_more", lang, n=figure(more, lang))]
                                                  if more > 0 else []))


def _rotate(k: dict[str, Any]) -> str:
    return ROTATE.format(kiosk=k["kiosk_id"], site=k["site_id"])


def _refused(k: dict[str, Any]) -> str:
    """The kiosk's own words on the push it refused, on one line (they come from the device)."""
    return " ".join((k.get("config_refused") or "").split())


def fleet_notice(db: Database, event: str, kiosks: list[dict[str, Any]], now: datetime) -> None:
    """One notice to the webhooks and each admin about several kiosks at once: `fleet.silent`
    (silent since about the same time: one cause the stores cannot fix), `fleet.never` (never
    heard from since registered), `fleet.twin` (two devices answer as each), `fleet.heard` (those
    heard again), `fleet.awaited` (put off to a later installation day), `fleet.twin_ended`
    (one device again), `fleet.config` (refused the config pushed to them, each with its reason)
    or `fleet.config_ended` (those run a config pushed to them now)."""
    url = web_url(db, "/fleet?flagged=1")
    key = event.replace(".", "_")
    values = dict(n=len(kiosks), sites=len({k["site_id"] for k in kiosks}))
    # Each copied card's command is given, however many: the remedy is in the notice. A refusal
    # has the kiosk's reason under it.
    under = {"fleet.twin": _rotate, "fleet.config": _refused}.get(event)
    lang, listed = WEBHOOK_LANGUAGE, partial(_kiosk_list, kiosks, under=under, day=event == "fleet.awaited",
                                             every=event == "fleet.twin")
    hooks = queue.enqueue_webhooks(db, Notice(event, render.text(key + "_subject", lang, **values),
                                              render.text(key + "_intro", lang, **values) + "\n"
                                              + listed(lang), None, url), now)
    about = sorted({k["site_id"] for k in kiosks})
    mailed = [_mail(db, name, about, key + "_subject", key + "_intro", lambda lg: [], url, now, listed,
                    **values) for name in (u.name for u, _address in with_email(db) if u.role == ADMIN)]
    if not hooks and not any(mailed):
        # Nobody hears of it, and no store is told these instead: say so where someone may look.
        log.warning("%s about %d kiosk(s) reaches nobody: no webhook, and no admin with an e-mail address",
                    event, len(kiosks))
