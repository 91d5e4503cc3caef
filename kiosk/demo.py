"""The demo kiosk's configuration (`kiosk run --demo`, `kiosk sync --demo`): a complete
kiosk.toml as a mapping, with three questions, a schedule and a known staff PIN. Only ever used
when the demo is asked for and no config file is named."""

from __future__ import annotations

from typing import Any

from server_sync.protocol.catalogue import QUESTIONS

DEMO_PIN = "1234"                  # the demo config stores only its hash; a laptop demo, never a store
# hash_pin(DEMO_PIN, salt=b"kundpuls-demo-salt"), written out: PBKDF2 at full strength takes a
# noticeable moment, and the demo config is built often (tests check it is the hash of DEMO_PIN).
DEMO_PIN_HASH = "pbkdf2_sha256$200000$a3VuZHB1bHMtZGVtby1zYWx0$UVve5amFqHgrSeZnqfaBzMfGUettmNtk7qWhHIhihUc="
DEMO_KIOSK = "demo-kiosk-1"
DEMO_SITE = "sthlm-sodermalm"


def demo_config_mapping(kiosk_id: str = DEMO_KIOSK, site_id: str = DEMO_SITE) -> dict[str, Any]:
    return {
        "config_version": 1,
        "kiosk": {"id": kiosk_id, "site": site_id, "languages": ["sv", "nb", "en"],
                  "default_language": "sv", "timezone": "Europe/Stockholm"},
        "ui": {"fullscreen": False},
        "broker": {"host": "localhost", "port": 1883, "tls": False},
        "staff": {"pin_hash": DEMO_PIN_HASH},
        "questions": [dict(QUESTIONS["visit"]), dict(QUESTIONS["recommend"]), dict(QUESTIONS["pulse"])],
        "schedule": [
            # Staff answer the pulse question at closing time; customers see "visit" otherwise.
            {"question": "pulse", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "20:30", "to": "21:30"},
            {"question": "visit"},
        ],
    }
