"""Scrubbing measured, not hoped: on a generated corpus of sv/nb/en comments (tests/privacy_corpus.py)
the kiosk's scrubber must remove >= 99 % of the valid identifiers and keep >= 99 % of the
look-alikes. The figures per kind are written to tests/artifacts/privacy/scrub_corpus.json and
printed, so a change that trades one for the other shows."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from kiosk.scrub import MARKS, Scrubber
from tests.privacy_corpus import STAFF, corpus

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "privacy"


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def removed(value: str, scrubbed: str) -> bool:
    """Nothing of `value` left: neither the text as a word of its own (a staff name "hans" is not
    left in "thanks") nor its digits in a row."""
    if re.search(rf"(?<!\w){re.escape(value.lower())}(?!\w)", scrubbed.lower()):
        return False
    digits = _digits(value)
    return not digits or len(digits) < 5 or digits not in _digits(scrubbed)


def test_recall_and_false_positives_on_the_generated_corpus(capsys):
    scrubber = Scrubber(names=STAFF)
    by_kind: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])     # (sort, kind) -> [hit, total]
    misses: list[str] = []
    for s in corpus():
        out = scrubber.scrub(s.text, max_chars=500)
        if s.personal:
            sort = "identifier" if s.valid else "broken check digit"
            hit = removed(s.value, out)
        else:
            sort = "look-alike"
            hit = s.value in out and not any(m in out for m in MARKS)
        by_kind[(sort, s.kind)][0] += hit
        by_kind[(sort, s.kind)][1] += 1
        if not hit and sort != "broken check digit":
            misses.append(f"{sort} {s.kind}: {s.text!r} -> {out!r}")

    def rate(sort: str) -> float:
        hits = sum(v[0] for (k, _), v in by_kind.items() if k == sort)
        return hits / sum(v[1] for (k, _), v in by_kind.items() if k == sort)

    recall, kept = rate("identifier"), rate("look-alike")
    report = {"recall_valid_identifiers": round(recall, 4), "false_positive_rate": round(1 - kept, 4),
              "masked_with_broken_check_digit": round(rate("broken check digit"), 4),
              "by_kind": {f"{sort}: {kind}": {"ok": h, "of": n} for (sort, kind), (h, n) in sorted(by_kind.items())},
              "misses": misses[:50]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scrub_corpus.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    with capsys.disabled():
        print(f"\nscrub corpus: recall {recall:.2%} on valid identifiers, false positives {1 - kept:.2%} "
              f"on look-alikes ({sum(v[1] for v in by_kind.values())} comments)")
    assert recall >= 0.99, "\n".join(misses[:20])
    assert 1 - kept <= 0.01, "\n".join(m for m in misses if m.startswith("look-alike"))[:4000]
