"""Split a note into sentence-level statements whose offsets slice the note exactly."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import sentence_spans

_SPEAKER = re.compile(r"^\s*([A-Z][\w .'-]{0,40}?):\s+")
MIN_CHARS = 3
# A statement says something in words: a line of markup alone (a Markdown code fence "```", a rule "---", a table's
# "|---|---|") or of punctuation and emoji ("???", "😂😂") is no statement, or it is clustered, quoted and labelled
# like one (a pasted code block made a theme labelled "```").
_WORD = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str
    speaker: str | None = None


def split_statements(text: str) -> list[Segment]:
    """Sentences with offsets (service/text.py's splitter), those with a letter or digit. Transcripts with speakers:
    split_with_speakers."""
    return [Segment(span.start, span.end, text[span.start:span.end])
            for span in sentence_spans(text, MIN_CHARS) if _WORD.search(text, span.start, span.end)]


def split_with_speakers(text: str) -> list[Segment]:
    """For transcripts: each line is "Speaker: words"; every sentence of a line keeps that line's speaker."""
    segments: list[Segment] = []
    offset = 0
    for line in text.split("\n"):
        m = _SPEAKER.match(line)
        speaker = m.group(1).strip() if m else None
        body_start = m.end() if m else 0
        for seg in split_statements(line[body_start:]):
            s = offset + body_start + seg.start
            segments.append(Segment(s, s + len(seg.text), seg.text, speaker))
        offset += len(line) + 1
    return segments
