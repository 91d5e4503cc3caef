"""The demo kiosk's configuration (`kiosk run --demo`, `kiosk sync --demo`): a complete
kiosk.toml as a mapping, with three questions, a schedule and a known staff PIN. Only ever used
when the demo is asked for and no config file is named."""

from __future__ import annotations

from typing import Any

from kiosk.pin import hash_pin
from server_sync.protocol.catalogue import QUESTIONS

DEMO_PIN = "1234"                  # the demo config stores only its hash
DEMO_KIOSK = "demo-kiosk-1"
DEMO_SITE = "sthlm-sodermalm"


def demo_config_mapping(kiosk_id: str = DEMO_KIOSK, site_id: str = DEMO_SITE) -> dict[str, Any]:
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
