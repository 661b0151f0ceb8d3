"""Resident ID numbers (居民身份证号码, GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2
check character; the birth date in positions 7-14 must be a real date."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# ASCII digits only: `\d` (and int()) would take full-width or Arabic-Indic digits too
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def check_character(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate(value: str) -> str:
    """The number normalised (upper-case X), or ValueError saying what is wrong."""
    number = value.strip().upper()
    if not _SHAPE.fullmatch(number):
        raise ValueError("a resident ID number is 17 digits followed by a digit or X")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("the birth date in the resident ID number is not a real date") from None
    if check_character(number[:17]) != number[17]:
        raise ValueError("the check digit of the resident ID number is wrong (GB 11643)")
    return number


def mask(number: str) -> str:
    """4201**********123X: the region prefix and the last four stay, the birth date does not."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
