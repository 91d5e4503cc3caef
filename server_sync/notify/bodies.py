"""The JSON body of a webhook, per endpoint format, from one `Notice`: Slack (incoming webhook:
`text` plus Block Kit blocks), Microsoft Teams (a message with an Adaptive Card, as Teams
workflows and incoming webhooks accept) or plain JSON (the notice itself). Pure."""

from __future__ import annotations

import json
import re
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


# A notice's words come from people (an action's note, a site's name, a question's wording), so
# they are escaped for the format that reads markup: in Slack's mrkdwn "<!channel>" pings the
# whole channel and "<https://x|Sign in>" is a link under any text (Slack asks for &, < and >
# escaped); Teams' TextBlocks read a Markdown subset, where "[Sign in](https://x)" is such a link.
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_TEAMS_MARKUP = re.compile(r"([\\`*_\[\]])")


def slack_text(text: str) -> str:
    """`text` as Slack's mrkdwn shows it, letter for letter (no mention, link or entity)."""
    return text.translate(_SLACK)


def teams_text(text: str) -> str:
    """`text` as a Teams TextBlock shows it, letter for letter (no link or emphasis)."""
    return _TEAMS_MARKUP.sub(r"\\\1", text)


def body(fmt: str, notice: Notice) -> bytes:
    if fmt == "slack":
        title, text = slack_text(notice.title), slack_text(notice.text)
        out: dict[str, Any] = {"text": f"{title}: {text}", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ]}
        if notice.facts:
            out["blocks"].append({"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{slack_text(k)}*\n{slack_text(v)}"} for k, v in notice.facts[:10]]})
        if notice.url:
            out["blocks"].append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Kundpuls"}, "url": notice.url}]})
    elif fmt == "teams":
        card: dict[str, Any] = {
            "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4",
            "body": [{"type": "TextBlock", "text": teams_text(notice.title), "weight": "Bolder", "size": "Medium",
                      "wrap": True},
                     {"type": "TextBlock", "text": teams_text(notice.text), "wrap": True}]}
        if notice.facts:
            card["body"].append({"type": "FactSet", "facts": [{"title": teams_text(k), "value": teams_text(v)}
                                                              for k, v in notice.facts]})
        if notice.url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Kundpuls", "url": notice.url}]
        out = {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    elif fmt == "json":
        out = {"type": "kundpuls.notice", **notice.as_dict()}
    else:
        raise ValueError(f"unknown webhook format {fmt!r}; one of {', '.join(FORMATS)}")
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
