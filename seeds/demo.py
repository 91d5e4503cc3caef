"""Demo sites (the stores of the demo chain); the demo kiosk's own configuration is the
product's (`kiosk.demo`), the catalogue and opening hours the protocol's."""

from __future__ import annotations

from typing import Any

from kiosk.demo import DEMO_PIN, demo_config_mapping
from server_sync.protocol.catalogue import OPENING_HOURS

SITES: list[dict[str, Any]] = [
    {"id": "sthlm-sodermalm", "name": "Stockholm Södermalm", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "gbg-avenyn", "name": "Göteborg Avenyn", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "malmo-triangeln", "name": "Malmö Triangeln", "country": "SE", "timezone": "Europe/Stockholm"},
    {"id": "oslo-majorstuen", "name": "Oslo Majorstuen", "country": "NO", "timezone": "Europe/Oslo"},
    {"id": "bergen-bryggen", "name": "Bergen Bryggen", "country": "NO", "timezone": "Europe/Oslo"},
]

__all__ = ["SITES", "DEMO_PIN", "demo_config_mapping", "OPENING_HOURS"]
