"""Noun-phrase theme labels: a 3-8 word phrase cut from the theme's own statements that names what sets the
theme apart.

Candidates are the word n-grams (3 to 8 words) of the theme's most central statements that neither start
with a pronoun, article or conjunction nor end on a dangling word, and that name at least one of the theme's
c-TF-IDF keywords (a phrase without any is context-free: "Today we can't tell them"). Each is scored by how
distinctive its words are for this theme against the others (c-TF-IDF, `label.ctfidf_weights`) plus how
close its embedding is to the theme's centroid. The closeness is KeyBERT's candidate scoring (`_closeness`, with
our embedder: no model is downloaded), on the lexically best few candidates only, so a theme costs a few dozen
short encodes.
Deterministic: ties are broken by the phrase.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

MIN_WORDS, MAX_WORDS = 3, 8
SHORTLIST = 30  # candidates embedded per theme, the lexically best
LEXICAL_WEIGHT = 0.5  # c-TF-IDF share of the score (normalised to the theme's best phrase), beside cosine 0..1
LENGTH_COST = 0.01  # per word: among equals, the shorter phrase
CUT_COST = 0.1  # a phrase cut inside its clause, before a word that does not open a new phrase ("... for their larger")
CENTRAL_STATEMENTS = 10
_TOKENS = r"(?u)\b\w[\w']*\b"
# A label does not start with a word that needs the sentence around it.
_BAD_FIRST = {
    "i", "we", "you", "they", "he", "she", "it", "this", "that", "these", "those", "there", "their", "our", "my",
    "your", "its", "his", "her", "them", "us", "me", "and", "but", "or", "so", "because", "if", "when", "then",
    "the", "a", "an", "to", "of", "for", "with", "in", "on", "at", "by", "as", "is", "are", "was", "were", "be",
    "today", "also", "just", "still", "really", "um", "uh", "yeah", "ok", "okay", "well", "hi", "hey", "please",
    "which", "who", "what", "than", "not", "no", "can't", "don't", "doesn't", "it's", "we're", "they're", "i'm",
    "whose", "where", "how", "why", "since", "plus", "though", "although", "anyone", "someone", "nobody",
    "everyone", "some", "any", "all", "every", "each", "most", "aside", "alongside", "instead", "twice", "too",
    "they'd", "we'd", "i'd", "you'd", "they've", "we've", "i've", "you're", "there's", "that's", "let", "let's",
    "need", "needs", "want", "wants", "asked", "said", "says", "would", "could", "should", "will", "can",
}
# Words that open a new phrase or clause (prepositions, conjunctions, wh-words; verb particles such as "out" and
# "up" left out): a candidate that stops right before one stops at a phrase boundary, as one that ends its clause
# does. Any other cut likely stops inside a phrase: "Export button is basically useless for their larger" (tables).
_OPENERS = frozenset("""
about above across after against along among as at before behind below beneath beside between beyond by despite
during except for from into like near of onto past per since till to toward towards under until unlike upon via
with within without and or but nor yet so because although though while whereas unless if whether once when
whenever where which who whom whose""".split())
# Candidates never cross a clause boundary: punctuation, a dash, or a conjunction that starts a new clause.
_CLAUSE = re.compile(r"[,;:.!?()\[\]\"]|\s[-\u2013\u2014]\s|\b(?:but|because|so that|so|which|while|although|though"
                     r"|since|unless|until|whereas|and then)\b", re.I)


@dataclass
class PhraseLabel:
    label: str
    candidates: list[str]  # best first, surface forms


def _closeness(shortlist: list[str], doc: str, centre: np.ndarray, embedder) -> list[tuple[str, float]]:
    """KeyBERT's candidate scoring (`KeyBERT.extract_keywords` with candidates, a vectorizer over them and the
    document's embedding given): each candidate that occurs in the document, with the cosine of its embedding to
    the document's, rounded to 4 places as KeyBERT rounds. Done here because importing keybert imports
    sentence-transformers, transformers and torch (8.6 s measured, and their memory), which the theme job, on the
    ONNX embedder, otherwise never loads."""
    from sklearn.metrics.pairwise import cosine_similarity

    present = _vectorizer(vocabulary=shortlist).fit([doc]).transform([doc]).nonzero()[1]
    if not len(present):
        return []
    vectors = np.asarray(embedder.embed(list(shortlist)), dtype=np.float32)  # the whole vocabulary, as KeyBERT does
    cos = cosine_similarity(centre[None, :], vectors[present])[0]
    return [(shortlist[i], round(float(c), 4)) for i, c in zip(present.tolist(), cos.tolist())]


def _vectorizer(vocabulary=None):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(ngram_range=(MIN_WORDS, MAX_WORDS), token_pattern=_TOKENS, lowercase=True,
                           vocabulary=vocabulary)


def _normal(text: str) -> str:
    return text.replace("\u2019", "'")


def _surface(gram: str, texts: Sequence[str]) -> str:
    """The phrase as written in the first statement that holds it (case, hyphens and punctuation kept)."""
    pattern = re.compile(r"\b" + r"[^\w']+".join(map(re.escape, gram.split())) + r"\b", re.I)
    for t in texts:
        m = pattern.search(_normal(t))
        if m:
            s = m.group(0)
            return s[:1].upper() + s[1:]
    return gram[:1].upper() + gram[1:]


def candidates(texts: Sequence[str], weights: dict[str, float], keywords: Sequence[str]
               ) -> tuple[dict[str, float], set[str]]:
    """n-gram -> lexical score (sum of its terms' c-TF-IDF weights) for the admissible phrases of `texts`, and
    the n-grams that stop inside a phrase wherever they occur (`_OPENERS`)."""
    from .label import _DANGLING, terms

    vectorizer = _vectorizer()
    preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()
    top = set(keywords)
    out: dict[str, float] = {}
    cut: set[str] = set()
    for text in texts:
        for clause in _CLAUSE.split(_normal(text)):
            tokens = tokenize(preprocess(clause))
            for size in range(MIN_WORDS, MAX_WORDS + 1):
                for start in range(len(tokens) - size + 1):
                    words = tokens[start:start + size]
                    gram = " ".join(words)
                    end = start + size
                    complete = end == len(tokens) or tokens[end] in _OPENERS
                    if gram in out:
                        if complete:
                            cut.discard(gram)
                        continue
                    if words[0] in _BAD_FIRST or words[-1] in _DANGLING or words[-1] in _BAD_FIRST:
                        continue
                    phrase_terms = set(terms(gram))
                    if not phrase_terms & top:
                        continue
                    out[gram] = sum(weights.get(t, 0.0) for t in phrase_terms)
                    if not complete:
                        cut.add(gram)
    return out, cut


def phrase_label(texts: Sequence[str], vectors: np.ndarray, weights: dict[str, float], keywords: Sequence[str],
                 embedder) -> PhraseLabel | None:
    """The best phrase for a theme, or None when its statements hold no admissible phrase (e.g. two-word ones)."""
    from .label import words_of

    v = np.asarray(vectors, dtype=np.float32)
    centre = v.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    order = np.lexsort((np.arange(len(texts)), -(v @ centre)))[:CENTRAL_STATEMENTS]
    # Their words only: a phrase read off "**SSO** setup" would carry the asterisks into the label.
    central = [plain for plain in (words_of(texts[i]) for i in order.tolist()) if plain]
    lexical, cut = candidates(central, weights, keywords)
    if not lexical:
        return None
    shortlist = sorted(lexical, key=lambda g: (-lexical[g], len(g.split()), g))[:SHORTLIST]
    doc = " . ".join(_normal(t) for t in central)
    found = _closeness(shortlist, doc, centre, embedder)
    best_lex = max(lexical[g] for g in shortlist) or 1.0
    scored = sorted(((cos + LEXICAL_WEIGHT * lexical[g] / best_lex - LENGTH_COST * len(g.split()) - CUT_COST * (g in cut), g)
                     for g, cos in found), key=lambda x: (-x[0], x[1]))
    if not scored:
        return None
    surfaces = [_surface(g, central) for _, g in scored]
    return PhraseLabel(surfaces[0], surfaces)
