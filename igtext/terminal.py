"""Untrusted text made safe for a terminal.

z's, inputs, labels, LM answers, judgments and file names come from data files and model
output. Printed raw, an escape sequence in them clears the screen, recolours the output,
renames the window (OSC 0) or plants a clickable link (OSC 8); a bare carriage return or a
backspace overwrites what was printed before; a bidirectional override reorders it. Every
command that prints such text passes it through `safe`; the HTML report and the judging
page have their own escaping.
"""
from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional formatting
# characters (embeddings, overrides, isolates, marks).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe(text: object, markup: bool = False) -> str:
    """`text` with every control character but newline and tab shown as an escape
    (ESC as `\\x1b`, U+202E as `\\u202e`); with `markup`, rich markup escaped too, for text
    put inside a string that rich reads as markup."""
    out = _UNSAFE.sub(_visible, str(text))
    if markup:
        from rich.markup import escape
        out = escape(out)
    return out
