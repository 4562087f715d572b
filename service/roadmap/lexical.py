"""A tiny vectorised BM25 for roadmap matching, where exact product terms (Snowflake, BAA, SCIM, Okta) decide.

Items are few (tens to hundreds) and requests many, so the index is a sparse item-by-term weight matrix and
scoring a batch of requests is one sparse product.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

_WORD = re.compile(r"[a-z0-9]+")
# Function words carry no topic; keeping them would let "how do I ..." match every item a little.
STOPWORDS = frozenset(
    """a an the to of for and or in on at by with from is are was were be been am do does did doing done
    me my mine i we our us you your yours it its this that these those there here what whats which who
    how when where why can could would should will shall may might must please thanks thank hi hello
    any some all not no yes if so than then just also very too about into out up down over as get got
    have has had having need needs want wants like would im ive id dont cant wont"""
    # The usual English function words (NLTK's list): pronouns and quantifiers ("their own", "every") matched
    # items whose descriptions happen to use them.
    """ myself ours ourselves yourself yourselves he him his himself she her hers herself itself they them
    their theirs themselves whom being but because until while against between through during before after
    above below under again further once both each every few many much more most other others another such
    either neither nor only own same now
    s t d ll m o re ve y""".split()
)


# Words that ask for the opposite of each other. A request to "import" Tableau workbooks is not served by an item
# about exporting, however close their vectors are: sentence embeddings barely separate such pairs. Only words that
# name a direction; everyday verbs are not here ("add support for", "show me", "stop them from" are not opposites of
# remove, hide and start).
OPPOSITES = (("import", "export"), ("upload", "download"), ("enable", "disable"), ("increase", "decrease"),
             ("lock", "unlock"), ("include", "exclude"), ("inbound", "outbound"), ("connect", "disconnect"),
             ("subscribe", "unsubscribe"), ("mute", "unmute"), ("encrypt", "decrypt"))


def stem(word: str, vocabulary: frozenset[str] = frozenset()) -> str:
    """Crude suffix stripping so "exports"/"exporting"/"exported" and "update"/"updates" meet, with no dependency.

    The trailing "e" goes too, so "share", "shared" and "sharing" all become "shar". A doubled final consonant is
    undoubled ("embedded", "shipping" -> "embed", "ship"). With a vocabulary, "-ed"/"-ing" is stripped from a short
    word only when what is left is a word, so "embed" and "speed" stay whole.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            single = base[:-1] if _doubled(base) else base
            if vocabulary and len(word) < 7 and not {base, base + "e", single} & vocabulary:
                break  # "embed", "speed", "bleed": not an inflection
            word = single
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _doubled(word: str) -> bool:
    """Ends in a doubled consonant that inflection adds ("shipp", "embedd"), not one the word has ("call", "pass")."""
    return len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouylsz"


_INFLECTIONS = ("iest", "ier", "est", "er", "ily", "ly", "ness")


def _inflected(token: str, vocabulary: frozenset[str]) -> bool:
    """An inflected word the dictionary lacks ("snappier", "quickest"), not a compound to split ("snap pier")."""
    for suffix in _INFLECTIONS:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            base = token[: -len(suffix)]
            forms = {base, base + "e", base + "y", base[:-1] if _doubled(base) else base}
            if forms & vocabulary:
                return True
    return False


@functools.lru_cache(maxsize=1)
def packaged_vocabulary() -> frozenset[str]:
    """Whole words from the packaged model's WordPiece vocabulary, used to split glued compounds; empty if absent."""
    try:
        from service.embedding import packaged_model_dir

        path = Path(packaged_model_dir()) / "vocab.txt"
        words = path.read_text(encoding="utf-8").split()
    except Exception:  # no packaged model (a test setup): compounds simply stay whole
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and len(w) >= 2)


_SHORT_PARTS = frozenset("on up or of in to at by go no off".split())


def split_compound(token: str, vocabulary: frozenset[str]) -> list[str]:
    """Split a glued identifier ("querycontact", "createoradd") into dictionary words, else keep it whole.

    Only long out-of-vocabulary tokens are split, and only into parts of 3+ letters (or a few particles), so real
    words the dictionary lacks ("negate" -> "ne gate") are left alone. Among splits, fewer and longer parts win.
    """
    if not vocabulary or len(token) < 6 or not token.isalpha():
        return [token]
    if token in vocabulary or stem(token) in vocabulary or stem(token) + "e" in vocabulary \
            or _inflected(token, vocabulary):
        return [token]  # an inflected word ("provisioning", "snappier"), not a compound

    @functools.lru_cache(maxsize=None)
    def best(start: int) -> tuple[int, tuple[str, ...]] | None:
        if start == len(token):
            return 0, ()
        found = None
        for end in range(start + 2, len(token) + 1):
            part = token[start:end]
            if part in vocabulary and (len(part) >= 3 or part in _SHORT_PARTS):
                rest = best(end)
                if rest is not None and (found is None or rest[0] + len(part) ** 2 > found[0]):
                    found = (rest[0] + len(part) ** 2, (part,) + rest[1])
        return found

    result = best(0)
    return list(result[1]) if result and len(result[1]) > 1 else [token]


def expand_compounds(text: str, vocabulary: frozenset[str]) -> str:
    """The text with glued identifiers spelled out ("email_querycontact" -> "email query contact")."""
    words = re.findall(r"[A-Za-z0-9]+", text.replace("_", " "))
    return " ".join(part for word in words for part in split_compound(word.lower(), vocabulary))


def _repeated_action(word: str, vocabulary: frozenset[str]) -> str | None:
    """The verb inside a "re-" word the dictionary lacks: "resell" -> "sell", "resync" -> "sync", "rebrand" ->
    "brand", so a request to "sell them on" meets an item about a "resell" portal. Dictionary words ("report",
    "remove") are never taken apart."""
    if not vocabulary or not word.startswith("re") or len(word) < 6 or word in vocabulary:
        return None
    rest = word[2:]
    return rest if rest in vocabulary or stem(rest, vocabulary) in vocabulary else None


@functools.lru_cache(maxsize=100_000)
def _word_terms(word: str, vocabulary: frozenset[str]) -> tuple[str, ...]:
    parts = split_compound(word, vocabulary)
    if len(parts) == 1 and (verb := _repeated_action(word, vocabulary)):
        parts = [verb]
    # Keep the whole token too: "hubspot" must still hit "hubspot" when it also splits into "hub spot".
    return tuple(stem(p, vocabulary) for p in (([word] + parts) if parts != [word] else parts)
                 if p not in STOPWORDS and len(p) > 1)


def tokenize(text: str, vocabulary: frozenset[str] = frozenset()) -> list[str]:
    """Lower-cased, stop-worded, stemmed terms; cached per word, since requests repeat their vocabulary."""
    return [term for word in _WORD.findall(text.lower().replace("_", " ")) for term in _word_terms(word, vocabulary)]


class BM25:
    """Okapi BM25 over a handful of documents; `score` maps a batch of queries to an (n_queries, n_docs) array."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75,
                 vocabulary: frozenset[str] = frozenset()):
        self.vocabulary = vocabulary
        docs = [tokenize(d, vocabulary) for d in documents]
        self.terms: dict[str, int] = {}
        rows, cols = [], []
        for row, doc in enumerate(docs):
            for term in doc:
                rows.append(row)
                cols.append(self.terms.setdefault(term, len(self.terms)))
        shape = (len(docs), max(len(self.terms), 1))
        tf = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
        tf.sum_duplicates()
        df = np.bincount(tf.indices, minlength=shape[1])
        n = len(docs)
        # The "+1" idf (Lucene's) stays positive even for a term in most items, so a hit never lowers a score.
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        length = np.asarray(tf.sum(axis=1)).ravel()
        norm = k1 * (1 - b + b * length / max(length.mean(), 1e-9))
        tf = tf.tocoo()
        weight = self.idf[tf.col] * tf.data * (k1 + 1) / (tf.data + norm[tf.row])
        self.weights = sparse.csr_matrix((weight, (tf.row, tf.col)), shape=shape)
        self.mean_idf = float(self.idf.mean()) if len(self.idf) else 1.0
        # Per (asked term, opposite term): each item's weight for the opposite, where the item lacks the asked term.
        self.against: dict[str, list[tuple[str, np.ndarray]]] = {}
        dense = self.weights.tocsc()
        for a, b in OPPOSITES:
            for asked, other in ((stem(a, vocabulary), stem(b, vocabulary)), (stem(b, vocabulary), stem(a, vocabulary))):
                if other not in self.terms:
                    continue
                says = dense[:, self.terms[other]].toarray().ravel()
                if asked in self.terms:  # an item about both ("import and export") contradicts neither
                    says = np.where(dense[:, self.terms[asked]].toarray().ravel() > 0, 0.0, says)
                if says.any():
                    self.against.setdefault(asked, []).append((other, says.astype(np.float32)))

    def query_matrix(self, queries: Iterable[str]) -> sparse.csr_matrix:
        rows, cols = [], []
        count = 0
        for row, query in enumerate(queries):
            count += 1
            for term in set(tokenize(query, self.vocabulary)):
                col = self.terms.get(term)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, self.weights.shape[1]))

    def score(self, queries: Iterable[str]) -> np.ndarray:
        return np.asarray((self.query_matrix(queries) @ self.weights.T).todense(), dtype=np.float32)

    def saturated(self, queries: Iterable[str]) -> np.ndarray:
        """BM25 squashed into [0, 1): one matched term of average rarity gives about 0.5, more terms approach 1."""
        raw = self.score(queries)
        return raw / (raw + self.mean_idf)

    def contradicted(self, queries: Iterable[str]) -> np.ndarray:
        """(n_queries, n_docs) in [0, 1): how strongly an item names the opposite of what a request asks for
        ("import" vs an item about "export"), on the scale of saturated(); 0 where the request names both words."""
        queries = list(queries)
        out = np.zeros((len(queries), self.weights.shape[0]), np.float32)
        if not self.against:
            return out
        for row, query in enumerate(queries):
            terms = set(tokenize(query, self.vocabulary))
            for asked in terms & self.against.keys():
                for other, says in self.against[asked]:
                    if other not in terms:
                        out[row] += says
        return out / (out + self.mean_idf)
