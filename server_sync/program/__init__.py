"""What every Kundpuls program shares besides the wire: the command-line skeleton, progress
bars, systemd notification, checks of TLS files, and numbered schema migrations.

A leaf like `server_sync.protocol` (which it may import): nothing from `kiosk`, the centre or
`seeds`, so the kiosk and the centre both build on it without importing each other.
"""
