"""The reason catalogue (performance areas of a store visit, and of a working day), the standard
questions, and a store's typical opening hours.

Reason codes and question ids are stable identifiers on the wire and in the central store; the
labels are what a customer sees on the follow-up screen and what a report prints. A kiosk's
config may add reasons and questions of its own; these are the defaults both sides know.
"""

from __future__ import annotations

from typing import Any

REASONS: dict[str, dict[str, str]] = {
    "queue": {"sv": "Kö och väntetid", "nb": "Kø og ventetid", "en": "Queue and waiting time"},
    "staff": {"sv": "Personalens bemötande", "nb": "Personalets vennlighet", "en": "Staff friendliness"},
    "availability": {"sv": "Varor i lager", "nb": "Varer på lager", "en": "Product availability"},
    "price": {"sv": "Pris", "nb": "Pris", "en": "Price"},
    "cleanliness": {"sv": "Renlighet", "nb": "Renhold", "en": "Cleanliness"},
    "checkout": {"sv": "Kassan", "nb": "Kassen", "en": "Checkout"},
    "other": {"sv": "Annat", "nb": "Annet", "en": "Other"},
    # Employee pulse areas.
    "workload": {"sv": "Arbetsbelastning", "nb": "Arbeidsmengde", "en": "Workload"},
    "leadership": {"sv": "Ledarskap", "nb": "Ledelse", "en": "Leadership"},
    "tools": {"sv": "Verktyg och system", "nb": "Verktøy og systemer", "en": "Tools and systems"},
    "team": {"sv": "Samarbete", "nb": "Samarbeid", "en": "Teamwork"},
}

CUSTOMER_REASONS = ("queue", "staff", "availability", "price", "cleanliness", "checkout")
EMPLOYEE_REASONS = ("workload", "leadership", "tools", "team", "other")

QUESTIONS: dict[str, dict[str, Any]] = {
    "visit": {
        "id": "visit", "version": 1, "scale": "smiley4", "audience": "customer",
        "text": {"sv": "Hur var ditt besök i dag?", "nb": "Hvordan var besøket ditt i dag?",
                 "en": "How was your visit today?"},
        "reasons": list(CUSTOMER_REASONS), "comment": True,
    },
    "checkout": {
        "id": "checkout", "version": 1, "scale": "smiley4", "audience": "customer",
        "text": {"sv": "Hur upplevde du kassan?", "nb": "Hvordan opplevde du kassen?",
                 "en": "How was the checkout?"},
        "reasons": ["queue", "staff", "checkout", "price", "other"],
    },
    "recommend": {
        "id": "recommend", "version": 1, "scale": "nps11", "audience": "customer",
        "text": {"sv": "Hur troligt är det att du rekommenderar oss till en vän?",
                 "nb": "Hvor sannsynlig er det at du anbefaler oss til en venn?",
                 "en": "How likely are you to recommend us to a friend?"},
        "reasons": list(CUSTOMER_REASONS[:5]) + ["other"],
    },
    "pulse": {
        "id": "pulse", "version": 1, "scale": "smiley4", "audience": "employee",
        "text": {"sv": "Hur har din arbetsdag varit?", "nb": "Hvordan har arbeidsdagen din vært?",
                 "en": "How was your working day?"},
        "reasons": list(EMPLOYEE_REASONS),
    },
}

# A store's opening hours by weekday (0 = Monday): (first hour, hour it closes). The kiosk's
# simulator draws taps inside them; the centre's fleet view uses them for a site without its own.
OPENING_HOURS: dict[int, tuple[int, int]] = {
    0: (8, 21), 1: (8, 21), 2: (8, 21), 3: (8, 21), 4: (8, 21), 5: (9, 18), 6: (10, 17)}


def built_in(question_id: str, version: int, scale: str, audience: str) -> dict[str, Any] | None:
    """The catalogue's question when (question_id, version) is its version, on its scale and of
    its audience: a question every kiosk may ask unconfigured, which the centre holds to that
    meaning as it holds one it defined (central.questions.binding). None for anything else (a
    catalogue version first answered on another scale is a kiosk's own)."""
    shipped = QUESTIONS.get(question_id)
    if shipped and (shipped["version"], shipped["scale"], shipped["audience"]) == (version, scale, audience):
        return shipped
    return None


def default_questions() -> list[dict[str, Any]]:
    """The question a kiosk asks when its config names none."""
    return [dict(QUESTIONS["visit"])]
