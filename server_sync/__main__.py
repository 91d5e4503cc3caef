"""`python -m server_sync` is the same as the `kiosk-central` command."""

import sys

from server_sync.cli import main

sys.exit(main())
