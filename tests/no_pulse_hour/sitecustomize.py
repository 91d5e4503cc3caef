"""Put first on PYTHONPATH of a demo process a test starts (tests/web/test_demo.py,
tests/test_headless.py), so that process's demo config asks the customers' question at every
hour: the demo schedules the staff pulse on weekdays 20:30-21:30 Stockholm time, and a test
about key presses reaching the dashboard or being printed once would fail in that hour of the
evening (it did, in CI at 20:19 UTC). The schedule itself is tested with a fake clock elsewhere
(tests/test_headless.py, tests/ui/scenario.py). Python imports `sitecustomize` at start-up."""

import kiosk.demo

_demo_config_mapping = kiosk.demo.demo_config_mapping


def _customers_question_all_day(*args, **kwargs):
    mapping = _demo_config_mapping(*args, **kwargs)
    mapping["schedule"] = [entry for entry in mapping["schedule"] if entry["question"] != "pulse"]
    return mapping


kiosk.demo.demo_config_mapping = _customers_question_all_day
