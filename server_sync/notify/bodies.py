"""The JSON body of a webhook, per endpoint format, from one `Notice`: Slack (incoming webhook:
`text` plus Block Kit blocks), Microsoft Teams (a message with an Adaptive Card, as Teams
workflows and incoming webhooks accept) or plain JSON (the notice itself). Pure."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

FORMATS = ("slack", "teams", "json")


@dataclass(frozen=True)
class Notice:
    """One thing to tell people: what happened, where, and where to read more."""
    event: str                              # e.g. "alert.raised", "alert.assigned"
    title: str
    text: str
    site_id: str | None = None
    url: str | None = None                  # a link into the web app, when it has one
    facts: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["facts"] = [list(f) for f in self.facts]
        return d


def body(fmt: str, notice: Notice) -> bytes:
    if fmt == "slack":
        out: dict[str, Any] = {"text": f"{notice.title}: {notice.text}", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": notice.text}},
        ]}
        if notice.facts:
            out["blocks"].append({"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in notice.facts[:10]]})
        if notice.url:
            out["blocks"].append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Kundpuls"}, "url": notice.url}]})
    elif fmt == "teams":
        card: dict[str, Any] = {
            "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4",
            "body": [{"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": True},
                     {"type": "TextBlock", "text": notice.text, "wrap": True}]}
        if notice.facts:
            card["body"].append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in notice.facts]})
        if notice.url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Kundpuls", "url": notice.url}]
        out = {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    elif fmt == "json":
        out = {"type": "kundpuls.notice", **notice.as_dict()}
    else:
        raise ValueError(f"unknown webhook format {fmt!r}; one of {', '.join(FORMATS)}")
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
