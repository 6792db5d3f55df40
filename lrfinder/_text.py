"""Reading text files that Windows tools wrote with a byte-order mark."""

from __future__ import annotations

import codecs
from pathlib import Path


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text, or UTF-16 text that starts with its byte-order mark; a UTF-8 one is dropped.

    Notepad and PowerShell's ``Out-File -Encoding utf8`` start UTF-8 with a byte-order mark, and
    Windows PowerShell 5's ``>`` writes UTF-16: ``json.loads`` refused the first ("Unexpected UTF-8
    BOM"), and both read as "not UTF-8 text".

    Raises:
        UnicodeDecodeError: Bytes that are neither (a binary file).

    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def read_text(path: Path) -> str:
    """Read a text file with :func:`decode_text`."""
    return decode_text(path.read_bytes())
