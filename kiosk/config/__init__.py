"""The kiosk's configuration (`kiosk.toml`): its keys, their validation and the settings objects
the kiosk reads. The centre imports it too, to check a config before pushing it.

Every key is declared once, in `schema.KEYS`; defaults, bounds, `kiosk config keys` and the
docs derive from it. `reader` checks each key against its declaration, `rules` checks what spans
keys, `settings` holds the result, `parse` ties them together from a file, a text or a mapping;
`paths` says where files live by default and `tomlpos` finds a key's line for an error.

It never looks at the environment, the command line or a config the centre pushed: the
effective config of a command (CLI > env > file > defaults, with the push laid over it) is
`kiosk.loading`'s business, which imports this package and is never imported by it.
The names below are the ones callers use.
"""

from kiosk.config.parse import load_file, parse_config, parse_text
from kiosk.config.paths import PI_DATA_DIR, default_config_path, default_data_dir, running_on_pi
from kiosk.config.rules import RESERVED_PINS
from kiosk.config.schema import KEYS, Key
from kiosk.config.settings import (BrokerSettings, Filters, FollowupSettings, GpioSettings,
                                   KioskConfig, Question, ScheduleEntry, StaffSettings,
                                   SyncSettings, UiSettings, active_question, asked_question,
                                   unsynced_question)

__all__ = [name for name in dir() if not name.startswith("_")]
