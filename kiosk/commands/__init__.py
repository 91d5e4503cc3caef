"""Subcommands of `kiosk`. Each module defines `add_parser(subparsers, common)` which adds its
parser and sets `func` (args -> exit code). Modules are discovered by name."""
