"""The one place for text handling: sentence splitting, stop words, stemming, tokens and BM25.

- Stemming: the Snowball English stemmer (PyStemmer), cached per word.
- Stop words: bm25s' English list (NLTK's function words): pronouns, articles, auxiliaries, no content words.
- BM25: bm25s, one small index per roadmap; scores for a batch of queries as an (n_queries, n_docs) array.
- Markup: markdown-it and the standard library's HTMLParser take pasted Markdown or HTML off a request.
- Sentences: a regex splitter with offsets that slice the text exactly. pysbd was measured on the sample notes at
  1,800 sentences/s against 67,000 for this splitter, which made it the bottleneck of a 100,000-statement ingest;
  abbreviations ("e.g.", "Q1.") are protected, which is what pysbd added for our notes.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

# ---- sentences -------------------------------------------------------------------------------------------------
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before white space, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|inc|ltd|approx|no|st|jr|sr)\.|\b[A-Z]\.)$", re.I)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def sentence_spans(text: str, min_chars: int = 1) -> list[Span]:
    """Sentences with offsets into text (white space trimmed); pieces shorter than min_chars are dropped."""
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if "\n" not in match.group(0) and _ABBREV.search(text[start:match.start()]):
            continue  # "e.g. Snowflake" is one sentence
        spans.extend(_span(text, start, match.start(), min_chars))
        start = match.end()
    spans.extend(_span(text, start, len(text), min_chars))
    return spans


def _span(text: str, start: int, end: int, min_chars: int) -> list[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [Span(start, end, text[start:end])] if end - start >= max(min_chars, 1) else []


def sentences(text: str) -> list[str]:
    return [s.text for s in sentence_spans(text or "")]


# ---- markup ----------------------------------------------------------------------------------------------------
def plain_text(text: str) -> str:
    """The words of a request pasted with Markdown or HTML ("**SCIM** provisioning?", "<p>Do you have SSO?</p>",
    "> quoted email") without the markup, white space collapsed: what the matcher reads. Parsed by markdown-it
    (CommonMark: inline HTML is a token of its own, entities decoded) and, for HTML blocks, the standard library's
    HTMLParser. Text without markup comes back unchanged apart from white space. Measured: eval/README.md
    ("Requests pasted with markup")."""
    parts: list[str] = []
    for token in _markdown().parse(text or ""):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline", "image"):  # an image's content is its alt text
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
        elif token.type == "html_block":
            parts.append(_html_text(token.content))
        elif token.type in ("code_block", "fence"):
            parts.append(token.content)
        elif token.nesting == -1:  # a block ends: keep its words apart from the next block's
            parts.append(" ")
    return " ".join("".join(parts).split())


@functools.lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _html_text(html: str) -> str:
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data):
            self.parts.append(data)

        def handle_starttag(self, tag, attrs):
            self.parts.append(" ")

        def handle_endtag(self, tag):
            self.parts.append(" ")

    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


# ---- words -----------------------------------------------------------------------------------------------------
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    # The list spells contractions with an apostrophe; tokens here are split at it ("don't" -> "don", "t").
    return frozenset(w for word in STOPWORDS_EN_PLUS for w in re.findall(r"[a-z0-9]+", word))


STOP_WORDS = _stop_words()
_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def words(text: str | None) -> list[str]:
    """Lower-cased alphanumeric words; "_" separates words ("order_status" -> "order", "status")."""
    return _WORD.findall((text or "").lower().replace("_", " "))


def terms(text: str | None) -> list[str]:
    """Stemmed content words: stop words and one-letter words dropped."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1]


# ---- BM25 ------------------------------------------------------------------------------------------------------
class BM25:
    """Okapi BM25 (bm25s, Lucene variant) over a few documents, scored for batches of queries."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75):
        import bm25s

        self.n_docs = len(documents)
        tokens = [terms(d) or ["\x00empty"] for d in documents]  # bm25s needs a token in every document
        self.vocab = {t: i for i, t in enumerate(dict.fromkeys(t for doc in tokens for t in doc))}
        self.index = bm25s.BM25(k1=k1, b=b)
        self.index.index([[self.vocab[t] for t in doc] for doc in tokens], show_progress=False)
        weights = [self.index.get_scores([i]).max() for i in range(len(self.vocab))]
        self.mean_weight = float(np.mean(weights)) if weights else 1.0

    def score(self, queries: Iterable[str]) -> np.ndarray:
        rows = []
        for query in queries:
            ids = [self.vocab[t] for t in dict.fromkeys(terms(query)) if t in self.vocab]
            rows.append(self.index.get_scores(ids) if ids else np.zeros(self.n_docs, np.float32))
        return np.asarray(rows, dtype=np.float32).reshape(-1, self.n_docs)

    def saturated(self, queries: Iterable[str]) -> np.ndarray:
        """BM25 squashed into [0, 1): one matched term of average weight gives 0.5, more terms approach 1."""
        raw = self.score(queries)
        return raw / (raw + self.mean_weight)
