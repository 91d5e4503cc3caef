"""Kundpuls kiosk: records customer answers on the device, durably, before saying thank you.

This package runs on the Pi (or a laptop in demo mode). It must never depend on the network
for recording an answer; syncing is the job of a separate process (`kiosk sync`).
"""

__version__ = "0.2.0"
