"""French identifiers of practitioners and patients, and cohort membership.

* RPPS (Répertoire partagé des professionnels de santé): 11 digits, ``10`` followed by eight digits
  and a Luhn check digit, as the numbers the ANS issues.
* NIR (numéro d'inscription au répertoire, the "numéro de sécurité sociale"): 13 digits (sex, year
  and month of birth, département, commune, order number) followed by a 2-digit key
  ``97 - (NIR mod 97)``. Corsica's letters (2A/2B) are never generated, so the NIR is all digits.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date

__all__ = [
    "in_cohort",
    "luhn_check_digit",
    "make_nir",
    "make_rpps",
    "nir_key",
    "valid_nir",
    "valid_rpps",
]

# Départements of metropolitan France as two digits, Corsica ("20", written 2A/2B) excluded.
_DEPARTEMENTS = tuple(f"{n:02d}" for n in range(1, 96) if n != 20)


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit that makes ``digits + check`` pass the Luhn test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if (
            position % 2 == 0
        ):  # doubled: these are the odd positions once the check digit is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def make_rpps(rng: random.Random) -> str:
    body = "10" + "".join(str(rng.randrange(10)) for _ in range(8))
    return body + luhn_check_digit(body)


def valid_rpps(rpps: str) -> bool:
    return len(rpps) == 11 and rpps.isdigit() and luhn_check_digit(rpps[:-1]) == rpps[-1]


def nir_key(nir13: str) -> str:
    """The two-digit control key of a 13-digit NIR."""
    return f"{97 - int(nir13) % 97:02d}"


def make_nir(rng: random.Random, *, female: bool, birth_date: date) -> str:
    """A 15-character NIR (13 digits + key) consistent with the sex and the birth date."""
    sex = "2" if female else "1"
    body = (
        f"{sex}{birth_date.year % 100:02d}{birth_date.month:02d}{rng.choice(_DEPARTEMENTS)}"
        f"{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
    )
    return body + nir_key(body)


def valid_nir(nir: str) -> bool:
    return len(nir) == 15 and nir.isdigit() and nir_key(nir[:13]) == nir[13:]


def in_cohort(rpps: str, fraction: float, salt: str = "cohort") -> bool:
    """Whether a practitioner belongs to a defect's cohort: the service computes the same hash."""
    digest = hashlib.sha256(f"{salt}:{rpps}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
