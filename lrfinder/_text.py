"""Reading text files that Windows tools wrote with a byte-order mark, and the JSON in them."""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import Any


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text, or UTF-16 text that starts with its byte-order mark; a UTF-8 one is dropped.

    Notepad and PowerShell's ``Out-File -Encoding utf8`` start UTF-8 with a byte-order mark, and
    Windows PowerShell 5's ``>`` writes UTF-16: ``json.loads`` refused the first ("Unexpected UTF-8
    BOM"), and both read as "not UTF-8 text".

    Raises:
        UnicodeDecodeError: Bytes that are neither (a binary file).

    """
    return data.decode(_encoding(data))


def _encoding(head: bytes) -> str:
    """``"utf-16"`` for bytes that start with its byte-order mark, else ``"utf-8-sig"`` (which drops UTF-8's)."""
    return "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"


def read_text(path: Path) -> str:
    """Read a text file with :func:`decode_text`."""
    return decode_text(path.read_bytes())


def read_first_line(path: Path, chunk: int = 1 << 16) -> str:
    """The first line of a text file (no line end), decoded as :func:`read_text` decodes the whole file.

    Read a chunk at a time until the first line end, not the whole file: a CSV's header of a large file.

    Raises:
        UnicodeDecodeError: Bytes that are neither UTF-8 nor UTF-16 with its mark.

    """
    with path.open("rb") as handle:
        head = handle.read(2)
        decoder = codecs.getincrementaldecoder(_encoding(head))()
        text = decoder.decode(head)
        while "\n" not in text:
            data = handle.read(chunk)
            text += decoder.decode(data, final=not data)
            if not data:
                break
    return text.partition("\n")[0].rstrip("\r")


def parse_json(text: str) -> Any:
    """``json.loads(text)``; a document Python cannot read raises a ``ValueError`` saying why, never a bare one.

    Arrays nested some thousand deep raised ``RecursionError`` ("maximum recursion depth exceeded while decoding a
    JSON array"), an integer of more than 4,300 digits Python's advice to call ``sys.set_int_max_str_digits()``; no
    result file holds either (a file edited by hand, or none that lrfinder wrote).

    Raises:
        json.JSONDecodeError: ``text`` is not JSON.
        ValueError: ``text`` nests too deep or holds too long a number; the message says which.

    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("its arrays or objects are nested too deeply to read") from None
    except json.JSONDecodeError:
        raise
    except ValueError:
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python 3.10.7 and later
        raise ValueError(f"it holds a number of more than {limit:,} digits") from None
