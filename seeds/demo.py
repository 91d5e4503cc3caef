"""Demo sites and the demo kiosk configuration (what `kiosk run --demo` uses)."""

from __future__ import annotations

from typing import Any

from seeds.catalogue import QUESTIONS

# The demo staff PIN (the demo config stores only its hash).
DEMO_PIN = "1234"

SITES: list[dict[str, Any]] = [
    {"id": "sthlm-sodermalm", "name": "Stockholm Södermalm", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "gbg-avenyn", "name": "Göteborg Avenyn", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "malmo-triangeln", "name": "Malmö Triangeln", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "oslo-majorstuen", "name": "Oslo Majorstuen", "country": "NO", "timezone": "Europe/Oslo"},
    {"id": "bergen-bryggen", "name": "Bergen Bryggen", "country": "NO", "timezone": "Europe/Oslo"},
]

# Opening hours used by the simulator and the fleet's "silent during opening hours" rule.
OPENING_HOURS = {0: (8, 21), 1: (8, 21), 2: (8, 21), 3: (8, 21), 4: (8, 21), 5: (9, 18), 6: (10, 17)}


def demo_config_mapping(kiosk_id: str = "demo-kiosk-1", site_id: str = "sthlm-sodermalm") -> dict[str, Any]:
    """A complete kiosk.toml as a mapping: three questions, a schedule, the demo PIN."""
    from kiosk.pin import hash_pin
    return {
        "config_version": 1,
        "kiosk": {"id": kiosk_id, "site": site_id, "languages": ["sv", "nb", "en"],
                  "default_language": "sv", "timezone": "Europe/Stockholm"},
        "ui": {"fullscreen": False},
        "broker": {"host": "localhost", "port": 1883, "tls": False},
        "staff": {"pin_hash": hash_pin(DEMO_PIN, iterations=1000, salt=b"kundpuls-demo-salt")},
        "questions": [dict(QUESTIONS["visit"]), dict(QUESTIONS["recommend"]), dict(QUESTIONS["pulse"])],
        "schedule": [
            # Staff answer the pulse question at closing time; customers see "visit" otherwise.
            {"question": "pulse", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "20:30", "to": "21:30"},
            {"question": "visit"},
        ],
    }
