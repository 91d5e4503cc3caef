"""Kundpuls wire and centre: MQTT protocol, the kiosk-side sync agent, central ingest and store,
loyalty analysis and reports (`kiosk-central`)."""

__version__ = "0.2.0"
