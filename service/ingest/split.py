"""Split a note into sentence-level statements whose offsets slice the note exactly."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before white space,
# or at a line break. Abbreviations such as "e.g." and "Q1." are protected below.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|inc|ltd|approx|no|st|jr|sr)\.|\b[A-Z]\.)$", re.I)
_SPEAKER = re.compile(r"^\s*([A-Z][\w .'-]{0,40}?):\s+")
MIN_CHARS = 3


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str
    speaker: str | None = None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_statements(text: str, speakers: bool = False) -> list[Segment]:
    """Sentences with offsets; with speakers=True, a leading "Name: " on a line is kept as the speaker."""
    segments: list[Segment] = []
    pending_start = 0
    for match in _BOUNDARY.finditer(text):
        piece_end = match.start()
        if "\n" not in match.group(0) and _ABBREV.search(text[pending_start:piece_end]):
            continue  # "e.g. Snowflake" is one sentence
        segments.extend(_emit(text, pending_start, piece_end, speakers))
        pending_start = match.end()
    segments.extend(_emit(text, pending_start, len(text), speakers))
    return segments


def _emit(text: str, start: int, end: int, speakers: bool) -> list[Segment]:
    start, end = _trim(text, start, end)
    if end - start < MIN_CHARS:
        return []
    speaker = None
    if speakers:
        m = _SPEAKER.match(text, start, end)
        if m:
            speaker = m.group(1).strip()
            start, end = _trim(text, m.end(), end)
            if end - start < MIN_CHARS:
                return []
    return [Segment(start, end, text[start:end], speaker)]


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
