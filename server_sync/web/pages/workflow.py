"""The alert workflow and actions on the web: one alert with its history and the forms to assign,
set a due date, comment, acknowledge and close it; one action with its before/after, its verdict
and what worked at other sites, and the form that logs one on its own (from a site's page); the
failed deliveries of notices (admins).

Every route first finds the item's site and requires it in the person's scope (scope.require_site):
an alert or action of a site they may not see is a 404, the same page an unknown id gets. Acting
needs a role that may act there (workflow.people.may_act: not an analyst), else 403. The forms call
the same functions as `kiosk-central alerts …` (server_sync.workflow); what those refuse (a
FieldError, worded for the command line) a form says in its own words: a 400 naming the field by
its label, in the person's language.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from starlette.responses import RedirectResponse, Response

from server_sync.exc import FieldError
from server_sync.notify import queue
from server_sync.program.numbers import plain_whole_number
from server_sync.protocol.vocabulary import MAX_INT64
from server_sync.report.collation import sorted_names
from server_sync.web import filters, render
from server_sync.web.guard import PageResult, Visit, admin_page, error_page, form, page
from server_sync.web.pages.lists import in_readers_words
from server_sync.web.people import users
from server_sync.web.queries import site_names, with_zones
from server_sync.web.scope import NotVisible, visible_sites
from server_sync.workflow import actions, alerts
from server_sync.workflow.people import ACTING_ROLES, may_act

DELIVERY_COLUMNS = ["channel", "id", "to", "what", "created_at", "attempts", "state", "next_attempt_at", "last_error"]
# The library's name of each value the forms send (FieldError.field) → the web's text of the form
# field's label.
LABELS = {"owner": "assign_to", "due_date": "due_date", "comment": "comment_label", "outcome": "outcome",
          "reason": "reason_label", "action_id": "existing_action", "duplicate_of": "duplicate_of",
          "note": "action_note", "action_type": "action_type", "date": "action_date", "question": "question"}
# The close form's note describes the action the closing logs: labelled so there ("New action: What
# changed"), and named so when refused, not by the action form's "What changed".
CLOSE_LABELS = {**LABELS, "note": "close_note"}
# The close form's fields of each outcome (alerts.OUTCOMES): the page shows only the chosen one's
# (static/app.js); a field of another outcome filled in is refused, not dropped unsaid.
OUTCOME_FIELDS = {"action": ("note", "action_type", "date", "action_id"), "none": ("reason",),
                  "duplicate": ("duplicate_of",)}


def _path_id(v: Visit, name: str) -> int:
    """The alert's or action's id in the path; one beyond the database's integers (SQLite's
    driver would overflow on it) is no item, as an unknown one."""
    try:
        item = int(v.request.path_params[name])
    except (KeyError, ValueError):
        raise NotVisible(name) from None
    if item > MAX_INT64:
        raise NotVisible(name)
    return item


def _visible_id(v: Visit, table: str) -> int:
    """The id of the alert or action (`table`) in the path, once its site is in the person's
    scope: read for its site alone first, so that one of a site they may not see is answered as
    an unknown id is before anything of it is read or computed (a review: another store's
    action, evaluated, took 12 ms against an unknown id's 3, and a setting broken at its site
    made a 500 where an unknown id is a 404)."""
    item = _path_id(v, f"{table}_id")
    row = v.db.execute_sql(f"SELECT site_id FROM {table} WHERE id = {v.db.param}", (item,)).fetchone()
    if row is None:
        raise NotVisible(table)
    v.scope.require_site(row[0])
    return item


def _alert(v: Visit) -> dict[str, Any]:
    a = alerts.get(v.db, _visible_id(v, "alert"), v.now)
    if a is None:                         # gone since its site was read
        raise NotVisible("alert")
    return a


def _owners(v: Visit, site_id: str) -> list[str]:
    """Who the alert may be given to: the people who may act at its site."""
    return sorted_names([u.name for u in users(v.db) if u.role in ACTING_ROLES and not u.disabled
                         and site_id in visible_sites(v.db, u)], v.lang)


@page
@filters.takes()
def alert_page(v: Visit) -> PageResult:
    a = in_readers_words(with_zones(v.db, [_alert(v)])[0], v.lang)
    names = site_names(v.db, (a["site_id"],))
    a["site_name"] = names.get(a["site_id"], a["site_id"])
    for e in a["history"]:               # a closing said in the reader's words, from its parts
        e["closed"] = alerts.closed_detail(e["detail"]) if e["event"] == "closed" else None
    acting = may_act(v.db, v.user, a["site_id"])
    data = {"alert": a}
    context = {"may_act": acting, "owners": _owners(v, a["site_id"]) if acting else [],
               "types": actions.TYPES, "outcomes": alerts.OUTCOMES,
               "outcome_of": {name: o for o, names in OUTCOME_FIELDS.items() for name in names},
               "site_actions": actions.list_actions(v.db, sites=(a["site_id"],), state="open", now=v.now)}
    return PageResult("web/alert.html", data, "title_alert", csv=lambda d: (["at", "user", "event", "detail"],
                                                                            d["alert"]["history"]),
                      context=context, title=_item_title(v, "title_alert", a))


def _acting(v: Visit) -> dict[str, Any] | Response:
    a = _alert(v)
    if not may_act(v.db, v.user, a["site_id"]):
        return error_page(v.request, 403, v.lang, render.text("only_readers", v.lang))
    return a


def _back(a: dict[str, Any]) -> Response:
    return RedirectResponse(f"/alerts/{a['id']}", status_code=303)


def _refused(field: str | None, problem: str, labels: Mapping[str, str] = LABELS,
             **values: object) -> filters.BadFilter:
    """A form's value refused (a 400) in the person's language: "That could not be saved:" and
    what is wrong (filters.PROBLEMS), naming the field by the label the person sees on the form
    (`labels`: LABELS, or a form's own)."""
    return filters.refusal(filters.PROBLEMS[problem], field, labels, within="form_refused", **values)


def _in_words(fn: Callable[..., Response | None], labels: Mapping[str, str] = LABELS) -> Callable[..., Response | None]:
    """`fn` with what the workflow library refuses said in the form's own words (_refused)."""
    @functools.wraps(fn)
    def run(*args: Any) -> Response | None:
        try:
            return fn(*args)
        except FieldError as e:
            raise _refused(e.field, e.problem, labels, **e.values) from None
    return run


def _int(fields: dict, name: str) -> int | None:
    """An id typed or chosen in the form: ASCII digits (int() takes no '²', which isdigit() does),
    after a "#" if one is typed (the pages write "#12"); one beyond the database's integers is no
    item of the site."""
    value = str(fields.get(name, "")).strip()
    if not value:
        return None
    number = plain_whole_number(value.removeprefix("#").strip(), 40)
    if number is None:
        raise _refused(name, "not_a_number", value=value)
    if number > MAX_INT64:
        raise _refused(name, "not_at_site", value=value)
    return number


def _alert_form(act: Callable[[Visit, dict[str, Any], dict], Response | None] | None = None, *,
                labels: Mapping[str, str] = LABELS) -> Callable:
    """A form on one alert: scoped and allowed first (404 / 403), then `act`; back to the alert
    page unless `act` answers otherwise. `@_alert_form(labels=…)`: a form whose fields are
    labelled otherwise than LABELS says."""
    if act is None:
        return functools.partial(_alert_form, labels=labels)

    @form(labels=labels)
    @functools.wraps(act)
    def handler(v: Visit, fields: dict) -> Response:
        a = _acting(v)
        if isinstance(a, Response):
            return a
        return _in_words(act, labels)(v, a, fields) or _back(a)
    return handler


@_alert_form
def alert_assign(v: Visit, a: dict[str, Any], fields: dict) -> None:
    alerts.assign(v.db, a["id"], str(fields.get("owner", "")), v.user.name, v.now)


@_alert_form
def alert_due(v: Visit, a: dict[str, Any], fields: dict) -> None:
    alerts.set_due(v.db, a["id"], str(fields.get("due_date", "")), v.user.name, v.now)


@_alert_form
def alert_comment(v: Visit, a: dict[str, Any], fields: dict) -> None:
    alerts.comment(v.db, a["id"], str(fields.get("comment", "")), v.user.name, v.now)


@_alert_form
def alert_ack(v: Visit, a: dict[str, Any], fields: dict) -> None:
    alerts.acknowledge(v.db, a["id"], v.user.name, v.now, str(fields.get("comment", "")) or None)


def _just_closed_by(v: Visit, a: dict[str, Any], fields: dict) -> bool:
    """Whether this person closed the alert within alerts.RESENT_WITHIN as these fields say: the
    same close sent again (a double click), which answered "closed already" although the first one
    went through. Anything else sent (another outcome, reason, action or alert it duplicates:
    second thoughts) is not that: it is told the alert is closed, never silently dropped."""
    last = (a.get("history") or [None])[-1]
    if not last or last["event"] != "closed" or last["user"] != v.user.name:
        return False
    if v.now - datetime.fromisoformat(last["at"]).replace(tzinfo=timezone.utc) > alerts.RESENT_WITHIN:
        return False
    outcome = str(fields.get("outcome", ""))
    if outcome != a.get("outcome"):
        return False
    if outcome == "duplicate":
        return _int(fields, "duplicate_of") == a.get("duplicate_of")
    if outcome == "none":
        return str(fields.get("reason", "")).strip() == (a.get("outcome_reason") or "")
    # "action": the action it linked, or the one it created from the same note.
    if (action_id := _int(fields, "action_id")) is not None:
        return action_id == a.get("action_id")
    made = actions.get(v.db, a["action_id"], evaluate=False) if a.get("action_id") else None
    return made is not None and made["note"] == str(fields.get("note", "")).strip()


def _where_closed(a: dict[str, Any]) -> Response:
    """Where a close lands: its action's page, else the alert's."""
    return RedirectResponse(f"/actions/{a['action_id']}" if a["action_id"] else f"/alerts/{a['id']}", status_code=303)


@_alert_form(labels=CLOSE_LABELS)
def alert_close(v: Visit, a: dict[str, Any], fields: dict) -> Response | None:
    if a["state"] == "closed" and _just_closed_by(v, a, fields):
        return _where_closed(a)
    outcome = str(fields.get("outcome", ""))
    filled = [name for o, names in OUTCOME_FIELDS.items() if o != outcome for name in names
              if str(fields.get(name, "")).strip()]
    new_action = None
    action_id = _int(fields, "action_id") if outcome == "action" else None
    if a["state"] != "closed":             # closed: alerts.close says so, before what was filled in
        if outcome in OUTCOME_FIELDS and filled:
            raise _refused(filled[0], "not_for_outcome", CLOSE_LABELS)
        if action_id is not None and any(str(fields.get(name, "")).strip() for name in ("note", "action_type", "date")):
            raise _refused("action_id", "both_actions", CLOSE_LABELS)
    if outcome == "action" and action_id is None:
        new_action = {"note": str(fields.get("note", "")).strip(),
                      "action_type": str(fields.get("action_type", "")) or None,
                      "date": str(fields.get("date", "")) or None}
    try:
        closed = alerts.close(v.db, a["id"], outcome, v.user.name, v.now, reason=str(fields.get("reason", "")) or None,
                              action_id=action_id,
                              duplicate_of=_int(fields, "duplicate_of") if outcome == "duplicate" else None,
                              new_action=new_action)
    except FieldError as e:
        # Sent twice at once (a double click): this one read it open, the first closed it meanwhile.
        # The same close lands where the first did, as one sent again later does.
        fresh = alerts.require(v.db, a["id"], v.now)
        if e.problem == "closed" and _just_closed_by(v, fresh, fields):
            return _where_closed(fresh)
        raise
    if closed["action_id"]:
        return RedirectResponse(f"/actions/{closed['action_id']}", status_code=303)
    return None


@form(labels=LABELS)
@_in_words
def action_add(v: Visit, fields: dict) -> Response:
    """A new action at a site, on its own (not from an alert)."""
    site_id = v.scope.require_site(str(v.request.path_params.get("site_id", "")))
    if not may_act(v.db, v.user, site_id):
        return error_page(v.request, 403, v.lang, render.text("only_readers", v.lang))
    # Sent twice (a double click, a reload): the first one is the action.
    made = actions.create_once(v.db, site_id, str(fields.get("question", "")), str(fields.get("date", "")),
                               str(fields.get("note", "")), v.now, owner=str(fields.get("owner", "")) or None,
                               action_type=str(fields.get("action_type", "")) or None,
                               due_date=str(fields.get("due_date", "")) or None, by=v.user.name)
    return RedirectResponse(f"/actions/{made}", status_code=303)


@page
@filters.takes()
def action_page(v: Visit) -> PageResult:
    act = actions.get(v.db, _visible_id(v, "action"), v.now)
    if act is None:                       # gone since its site was read
        raise NotVisible("action")
    if act.get("evaluation"):
        act["evaluation"] = v.scope.readable_action(act["evaluation"])
    act["site_name"] = site_names(v.db, (act["site_id"],)).get(act["site_id"], act["site_id"])
    with_zones(v.db, [act])               # its closing time on the store's clock, not UTC's date
    data = {"action": act, "suggestions": actions.suggestions(v.db, act["site_id"], v.now, visible=v.scope.sites)}
    return PageResult("web/action.html", data, "title_action", context={}, title=_item_title(v, "title_action", act))


def _item_title(v: Visit, kind: str, item: dict[str, Any]) -> str:
    """An alert's or action's page title, as its heading says it: "Larm #4 · Uppsala 1"."""
    return f"{render.text(kind, v.lang)} #{item['id']} · {item['site_name']}"


@admin_page
@filters.takes()
def deliveries(v: Visit) -> PageResult:
    rows = queue.deliveries(v.db, failed_only=True, limit=500)
    return PageResult("web/admin_deliveries.html", {"deliveries": rows}, "title_deliveries",
                      csv=lambda d: (DELIVERY_COLUMNS, d["deliveries"]))
