"""Offline theme labels: a readable phrase, c-TF-IDF keywords and diverse representative quotes.

The label is a real statement, not a bag of words: among the statements closest to the theme's
centroid we take a short one that mentions the theme's distinctive keywords, then trim conversational
lead-ins ("I think", "we still") and trailing clauses, so it reads like a line a PM would write.
Everything is deterministic: ties are broken by position.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Conversational words that are frequent in feedback but say nothing about the theme.
_EXTRA_STOP = {
    "im", "ive", "id", "youre", "weve", "were", "theyre", "dont", "doesnt", "didnt", "cant", "wont", "isnt",
    "arent", "lets", "thats", "theres", "please", "just", "really", "like", "get", "got", "want", "need",
    "needs", "would", "could", "also", "still", "thing", "things", "know", "think", "okay", "ok", "yeah",
    "hi", "hello", "hey", "thanks", "thank", "lot", "bit", "kind", "sort", "maybe", "actually", "way",
    "make", "use", "using", "going", "able", "tell", "say", "said", "good", "right", "sure", "wanna", "gonna",
}
STOPWORDS = frozenset(ENGLISH_STOP_WORDS) | _EXTRA_STOP
_TOKEN = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_LEAD_IN = re.compile(
    r"^(?:(?:um+|uh+|so|well|ok(?:ay)?|yeah|honestly|basically|also|and|but|hi|hey|i (?:think|feel|guess|mean)"
    r"|to be honest|the thing is|one thing is)(?:[,\s]+|$)|according to [^,]{1,40}(?:,\s*|$))+", re.I)
_SUBJECT = re.compile(
    r"^(?:(?:we|i|our team|my team|they|the customer|customer|client)\s+(?:(?:still|just|really|also|often|sometimes"
    r"|always|keep)\s+)?)?(?:(?:asked|asking|wants? to know|wondered|would like to know)\s+(?:us\s+)?"
    r"(?:whether|if|about|for|when)\s+|(?:said|says|mentioned|noted|told us)\s+(?:that\s+)?)?", re.I)
_SEGMENT = re.compile(r"\s*(?:;|:\s|\s[-\u2013\u2014]\s)\s*")
_SUBORDINATE = re.compile(r",\s|\s\(|\s(?:but|because|which|so that|since|although|while|unless|until)\s", re.I)
_CONTRAST = re.compile(r",?\s(?:but|though|although|except that|except)\s", re.I)
_DANGLING = {"and", "or", "but", "with", "to", "of", "for", "the", "a", "an", "in", "on", "at", "that", "when", "if",
             "my", "our", "your", "their", "this", "these", "from", "by", "about", "please", "is", "are", "so",
             "who", "which", "where", "than", "as", "since", "plus", "can", "could", "would", "will"}
MAX_LABEL_WORDS = 8  # preferred: longer phrases lose score, shorter central ones win
KEYWORD_WEIGHT = 0.08  # per top-5 keyword named: a label should say what sets the theme apart, not just be central
HARD_MAX_WORDS = 12  # cut only beyond this: a complete 10-word sentence reads better than a cut 8-word one
CANDIDATES = 10  # most central statements considered for the label


@lru_cache(maxsize=200_000)
def terms(text: str) -> tuple[str, ...]:
    """Content unigrams and bigrams of a text (bigrams only across two content words)."""
    toks = _TOKEN.findall(text.lower().replace("\u2019", "").replace("'", ""))
    content = [t if t not in STOPWORDS and len(t) > 1 and not t.isdigit() else None for t in toks]
    uni = [t for t in content if t]
    bi = [f"{a} {b}" for a, b in zip(content, content[1:]) if a and b]
    return tuple(uni + bi)


def _counts(texts: Sequence[str]) -> Counter:
    """Term counts with each text counted once per term, so one rambling statement cannot dominate."""
    c: Counter = Counter()
    for t in texts:
        c.update(set(terms(t)))
    return c


def ctfidf_weights(clusters: Sequence[Sequence[str]]) -> list[dict[str, float]]:
    """c-TF-IDF (BERTopic's class-based TF-IDF) weight of every term of every cluster against all the others."""
    counts = [_counts(texts) for texts in clusters]
    total: Counter = Counter()
    for c in counts:
        total.update(c)
    avg = sum(total.values()) / max(len(clusters), 1)
    out = []
    for texts, c in zip(clusters, counts):
        size = sum(c.values()) or 1
        # A keyword should recur: in clusters of 4+ statements, a term seen once is an anecdote.
        min_df = 2 if len(texts) >= 4 else 1
        out.append({t: c[t] / size * math.log(1 + avg / total[t]) for t in c if c[t] >= min_df})
    return out


def keywords_for_clusters(clusters: Sequence[Sequence[str]], top: int = 10) -> list[list[str]]:
    """The top c-TF-IDF terms of every cluster against all the others."""
    return [[t for t, _ in sorted(w.items(), key=lambda x: (-x[1], x[0]))[:top]] for w in ctfidf_weights(clusters)]


def keywords(texts: Sequence[str], others: Sequence = (), top: int = 10) -> list[str]:
    """Keywords of one cluster; `others` are the other clusters' texts, flat or one list per cluster."""
    if others and not isinstance(others[0], str):
        background = [list(o) for o in others]
    else:
        background = [list(others)] if others else []
    return keywords_for_clusters([list(texts)] + background, top=top)[0]


def _centre(vectors: np.ndarray, centroid: np.ndarray | None) -> np.ndarray:
    c = np.asarray(vectors if centroid is None else centroid, dtype=np.float32)
    c = c.mean(axis=0) if centroid is None else c
    n = np.linalg.norm(c)
    return c / n if n else c


def tidy_phrase(text: str, max_words: int = HARD_MAX_WORDS) -> str:
    """Trim a statement into a label: no lead-in, no trailing clause, no end punctuation, capitalised."""
    s = re.sub(r"\s+", " ", text).strip().strip("\"'\u201c\u201d")
    s = _LEAD_IN.sub("", s)
    rest = _SUBJECT.sub("", s)
    if len(rest.split()) >= 2:  # keep the subject when it is all there is ("we" + one word)
        s = rest
    words = s.split()
    if len(words) > max_words:
        main = _SUBORDINATE.split(_SEGMENT.split(s)[0])[0]  # the main clause, when it is a phrase
        s = " ".join((main if len(main.split()) >= 3 else s).split()[:max_words])
    words = s.rstrip(" ,;:.!?-").split()
    while len(words) > 2 and words[-1].lower().strip(",;:.!?") in _DANGLING:  # "... in my" after a cut
        words.pop()
    s = " ".join(words).rstrip(" ,;:.!?-")
    s = s or text.strip()[:60]
    return s[:1].upper() + s[1:]


def _phrases(text: str) -> list[str]:
    """The statement, its independent parts (split at ';', ':' and dashes) and the main clause of each
    (what comes before ', ' / 'but' / 'because'): a long statement often holds a crisp label inside,
    while subordinate clauses on their own read as fragments."""
    out = [text.strip()]
    for segment in _SEGMENT.split(text):
        # After "but" is where a complaint usually is: "The API is nice to work with, but the limits kill us".
        contrast = _CONTRAST.split(segment)
        after = _SUBORDINATE.split(contrast[-1])[0] if len(contrast) > 1 else ""
        for phrase in (segment, _SUBORDINATE.split(segment)[0], after):
            phrase = phrase.strip()
            if len(phrase.split()) >= 3 and phrase not in out:
                out.append(phrase)
    return out


def label(texts: Sequence[str], vectors: np.ndarray, centroid: np.ndarray | None = None,
          keywords_: Sequence[str] | None = None) -> str:
    """A short readable phrase for the theme, cut from its most representative statements."""
    texts = list(texts)
    if not texts:
        return ""
    sims = np.asarray(vectors, dtype=np.float32) @ _centre(vectors, centroid)
    top_terms = list(keywords_ if keywords_ is not None else keywords(texts))[:5]
    best, best_score = "", -np.inf
    for i in np.lexsort((np.arange(len(texts)), -sims))[:CANDIDATES].tolist():
        plain = words_of(texts[i])
        for phrase in _phrases(plain) if plain else ():
            words = len(_SUBJECT.sub("", _LEAD_IN.sub("", phrase)).split())
            covered = sum(k in terms(phrase) for k in top_terms)
            # Centrality first; the theme's keywords and brevity decide among near-equally central
            # phrases, and a phrase that would need cutting mid-sentence is a last resort.
            score = (float(sims[i]) + KEYWORD_WEIGHT * covered - 0.005 * words - 0.05 * max(0, words - MAX_LABEL_WORDS)
                     - 0.1 * (words < 2))
            if score > best_score:  # strict: the earlier (more central) phrase wins a tie
                best, best_score = phrase, score
    return tidy_phrase(best) if best else ""


def words_of(text: str) -> str:
    """A statement as a label may read it: its words without Markdown or HTML (pasted notes carry "**SSO**",
    "`code`", "<b>"), and "" when it has no letter or digit. The statement itself stays verbatim: quotes need it."""
    from ..text import plain_text

    plain = plain_text(text)
    return plain if re.search(r"[^\W_]", plain) else ""


def representatives(texts: Sequence[str], vectors: np.ndarray, k: int = 3, centroid: np.ndarray | None = None,
                    diversity: float = 0.3, duplicate_cos: float = 0.9) -> list[int]:
    """Indices of up to k statements near the centroid and unlike each other (maximal marginal relevance)."""
    v = np.asarray(vectors, dtype=np.float32)
    if not len(texts):
        return []
    rel = v @ _centre(v, centroid)
    norm_text = [re.sub(r"\W+", " ", t.lower()).strip() for t in texts]
    chosen: list[int] = []
    best_sim = np.full(len(v), -np.inf, dtype=np.float32)
    while len(chosen) < k:
        mmr = (1 - diversity) * rel - diversity * np.where(np.isfinite(best_sim), best_sim, 0.0)
        blocked = np.zeros(len(v), dtype=bool)
        blocked[chosen] = True
        blocked |= best_sim >= duplicate_cos  # near-duplicates of a chosen quote add nothing
        blocked |= np.isin(norm_text, [norm_text[c] for c in chosen])
        if blocked.all():
            break
        i = int(np.argmax(np.where(blocked, -np.inf, mmr)))  # argmax: lowest index on ties
        chosen.append(i)
        best_sim = np.maximum(best_sim, v @ v[i])
    return chosen


def describe(clusters: Sequence[Sequence[str]], vectors: Sequence[np.ndarray], k: int = 3) -> list[dict]:
    """Label, keywords and representative indices for every cluster at once (keywords need them all)."""
    kws = keywords_for_clusters(clusters)
    return [{"label": label(t, v, keywords_=kw), "keywords": kw, "representatives": representatives(t, v, k)}
            for t, v, kw in zip(clusters, vectors, kws)]
