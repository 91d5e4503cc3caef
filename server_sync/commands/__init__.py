"""Subcommands of `kiosk-central`, one module each, discovered by name."""
