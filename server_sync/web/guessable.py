"""Whether a chosen password is a commonly used one, or one guessed easily from such a one: the
comparison with a list of common and compromised passwords that NIST SP 800-63B § 5.1.1.2 asks
of a verifier.

Offline: the list is zxcvbn's (the Python port of Dropbox's estimator, MIT licence; its
`frequency_lists` hold 30,000 passwords ranked by how often they were found in leaked password
sets, with English words, names and film and TV words), installed with the package; nothing is
fetched at run time. Two checks:

- the password, case-folded, is on the list, alone or with only digits, symbols and spaces before
  or after it ('Password2026!', '#1qwertyuiop'; zxcvbn knows years up to 2019 only, so it took
  'iloveyou2024!' for a strong one);
- zxcvbn's estimate of the guesses an attacker needs is under 10^6 (its score 0 or 1): a listed
  password with digits, a year or symbols added ('password2026!'), in other case or l33t
  spelling, a keyboard row ('qwertyuiop', '1qaz2wsx3edc'), a sequence, a repeat, a date. 10^6 is
  zxcvbn's own line for "protection from throttled online attacks" (sign-in locks an account
  after 5 failures in 15 minutes), and it refuses no password for lacking a kind of character.
  Its lists are English: a word of another language counts as random letters, so this refuses
  less there, never more.
"""

from __future__ import annotations

import functools

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_SCORE = 2               # zxcvbn's score 2: at least 10^6 guesses
# zxcvbn's time grows fast with the length of some passwords (a review: 64 characters of varied
# l33t symbols took 1.7 s of CPU, the web worker's GIL held; 20: 0.15 s, 16: 0.03 s on the 2-core
# machine): the first 16 characters are scored. Guesses for them are at most those for the whole,
# so a password refused for its start alone begins with something guessable.
SCORED_CHARS = 16


@functools.cache
def _common() -> tuple[frozenset[str], int]:
    """The list (in lower case already) and its longest password's length."""
    listed = FREQUENCY_LISTS["passwords"]
    return frozenset(listed), max(map(len, listed))


def _is_listed_with_padding(folded: str) -> bool:
    """Whether a listed password is `folded` with only characters that are no letters (digits,
    symbols, spaces) around it: every cut inside the leading and trailing runs of them."""
    common, longest = _common()
    lead = next((i for i, c in enumerate(folded) if c.isalpha()), len(folded))
    trail = next((i for i, c in enumerate(reversed(folded)) if c.isalpha()), len(folded))
    for start in range(lead + 1):
        for end in range(max(start + 1, len(folded) - trail), min(len(folded), start + longest) + 1):
            if folded[start:end] in common:
                return True
    return False


def is_guessable(password: str) -> bool:
    """Whether `password` is a common password (alone or padded with digits and symbols) or one
    guessed in under 10^6 tries."""
    if _is_listed_with_padding(password.casefold()):
        return True
    # No user_inputs: zxcvbn keeps them in a module-wide dictionary, which threads would share.
    return zxcvbn(password[:SCORED_CHARS])["score"] < MIN_SCORE
