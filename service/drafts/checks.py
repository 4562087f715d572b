"""The service's own checks on a draft, run on every draft (template or LLM) before it is stored or shown.

A problem is a short string naming the rule and the offending phrase. The rules mirror what a careful reviewer
would reject: invented items, dates the roadmap does not back, promises the roadmap does not make, availability
claims for things that have not shipped, paraphrased "quotes", internal details in customer drafts, and
personal data. They deliberately err on the strict side: a false alarm costs one repair or a template draft,
a missed one costs the rep's trust.
"""
from __future__ import annotations

import re

from ..redact import EMAIL_PATTERN
from ..text import sentences, terms
from .base import HONEST_VERDICTS, NOT_ON_ROADMAP, UNCOMMITTED_STATUSES, DraftContext, DraftItem
from .dates import ITEM_ID_RE, find_dates, normalize, release_fields

STANDARD_PREFIXES = frozenset({"ISO", "IEC", "RFC", "CVE", "SOC", "PCI", "UTF", "SHA", "AES", "TLS", "SSL",
                               "WCAG", "HTTP", "ANSI", "IEEE", "NIST", "FIPS", "GDPR", "CCPA", "HIPAA", "FY"})
_QUOTED = re.compile(r'"([^"\n]+)"')


# ---- dates ---------------------------------------------------------------------------------------------------
def date_problems(text: str, items: list[DraftItem]) -> list[str]:
    """A date may appear only when it is (no more specific than) the release of a cited dated item."""
    releases = [f for i in items if i.dated_release for f in release_fields(i.dated_release)]
    problems = []
    for d in find_dates(text):
        if d.relative:
            problems.append(f"relative date '{d.text}'")
        elif not any(all(r.get(k) == v for k, v in d.fields.items()) for r in releases):
            problems.append(f"date '{d.text}' is not the release of a cited shipped, in-progress or planned item")
    return _unique(problems)


# ---- promises and availability -----------------------------------------------------------------------------
PROMISE_RE = re.compile(
    r"\bwill\s+(?:(?:also|definitely|certainly|then|finally)\s+)*(?:be\s+)?"
    r"(?:ship|shipped|shipping|available|released|release|launch|"
    r"launched|deliver|delivered|ready|live|land|roll(?:ed)?\s+out|built|build|add|added|support|have|get|include)\b"
    r"|\b(?:we|you|it|they|this|that)'ll\s+(?:ship|deliver|launch|release|land|build|add|have|get|support|be)\b"
    r"|\bguarantee[sd]?\b|\bpromise[sd]?\b|\bcommit(?:ted|ting|s)?\s+to\b|\bcommitted\b|\b(?:a|our|firm)\s+commitment\b"
    r"|\b(?:is|are|'s|'re)\s+coming\b|\bgo(?:es)?\s+live\b|\bon\s+track\s+(?:to|for)\b|\b(?:scheduled|slated|set)\s+(?:for|to)\b"
    r"|\b(?:is|are)\s+(?:landing|launching|shipping)\b|\bdefinitely\b|\bcount\s+on\b|\bexpect\s+it\b",
    re.IGNORECASE)
AVAILABLE_RE = re.compile(
    r"\bavailable\s+(?:today|now)\b|\b(?:is|are|'s|'re)\s+(?:(?:now|already|also|fully)\s+)*live\b|\bgenerally\s+available\b"
    r"|\b(?:has|have)\s+(?:already\s+)?(?:shipped|launched|been\s+released)\b"
    r"|\balready\s+(?:available|supported|supports?|ships?)\b"
    r"|\b(?:shipped|launched|went\s+live)\s+(?:in|on|last)\b|\blive\s+today\b",
    re.IGNORECASE)
HEDGE_RE = re.compile(r"\b(?:not|no|never|nothing|none|nor|cannot|without|unlikely|if|whether|unless|until)\b|n't\b",
                      re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:()]|\s-\s|\b(?:but|however|although|though|whereas)\b", re.IGNORECASE)


def _hedged(sentence: str, start: int) -> bool:
    return bool(HEDGE_RE.search(_CLAUSE.split(sentence[:start])[-1]))


def _about(sentence: str, items: list[DraftItem]) -> list[DraftItem]:
    low = sentence.lower()
    named = [i for i in items if i.id in sentence or (i.title and i.title.lower() in low)]
    return named or items[:1]


def _own_subject(m: re.Match) -> int:
    """Where a promise's own subject ends inside the match: "we'll deliver" holds its subject ("we"), so the clause
    before the match ("..., and") says nothing about what is promised; 0 when the match holds none."""
    found = m.group(0).lower().find("'ll")
    return max(found, 0)


def _points_back(sentence: str, m: re.Match, own: int = 0) -> bool:
    """A promise about the item under discussion: "it will ship", "we will deliver it", "this is coming"."""
    after = [w.lower() for w in re.findall(r"[\w']+", sentence[m.end():])][:4]
    return _refers_back(sentence, m.start() + own) or any(w in _PRONOUNS for w in after)


def promise_problems(text: str, verdict: str, items: list[DraftItem],
                     shared: frozenset[str] = frozenset()) -> list[str]:
    """No promise for an honest verdict or an uncommitted item, and none about something no cited item names ("we
    will also add a BigQuery connector" in a draft about another item)."""
    problems = []
    for sentence in split_sentences(text):
        for m in PROMISE_RE.finditer(sentence):
            if _hedged(sentence, m.start()):
                continue
            phrase = " ".join(m.group(0).split())
            own = _own_subject(m)
            if verdict in HONEST_VERDICTS:
                problems.append(f"promise '{phrase}' although the verdict is {verdict}")
            elif items and not _named(_clause(sentence, m), items, shared) and not _points_back(sentence, m, own):
                problems.append(f"promise '{phrase}' about something no cited item names")
            for item in _about(sentence, items) if verdict not in HONEST_VERDICTS else []:
                if item.status in UNCOMMITTED_STATUSES:
                    problems.append(f"promise '{phrase}' about an item that is {item.status}")
    return _unique(problems)


# What may stand before "is available today" when the sentence names no item: a word pointing back at the item
# being discussed ("it is live", "this feature has shipped"), never a thing of its own ("our mobile app is live").
_PRONOUNS = frozenset({"it", "this", "that", "they", "these", "those", "both", "which", "them"})
_BACK_NOUNS = frozenset({"feature", "features", "capability", "functionality", "integration", "connector", "item",
                         "option", "one"})
_DETERMINERS = frozenset({"the", "this", "that", "these", "those"})
_FILLER = frozenset({"is", "are", "was", "has", "have", "been", "also", "now", "already", "fully", "generally",
                     "all", "and", "yes", "so", "too"})


def shared_title_terms(titles) -> frozenset[str]:
    """Terms (stemmed, stop words out) in the titles of two or more roadmap items: "connector" or "export" on a
    roadmap with several connectors or exports says which kind of thing, not which item."""
    counts: dict[str, int] = {}
    for title in titles:
        for term in set(terms(title)):
            counts[term] = counts.get(term, 0) + 1
    return frozenset(t for t, n in counts.items() if n > 1)


def _named(sentence: str, items: list[DraftItem], shared: frozenset[str] = frozenset()) -> list[DraftItem]:
    """Items a sentence names: by id, full title, or a term of the title no other roadmap item's title has
    ("SCIM", "Snowflake"; `shared` holds the rest, from the roadmap's own titles)."""
    said = set(terms(sentence))
    out = []
    for i in items:
        own = {t for t in terms(i.title) if len(t) >= 3} - shared
        if i.id in sentence or (i.title and i.title.lower() in sentence.lower()) or own & said:
            out.append(i)
    return out


def _clause(sentence: str, m: re.Match) -> str:
    """The clause a match stands in: "so they can sign in" after a comma is not what "we will add X" is about."""
    before = _CLAUSE.split(sentence[:m.start()])[-1]
    return before + m.group(0) + _CLAUSE.split(sentence[m.end():])[0]


def _refers_back(sentence: str, start: int) -> bool:
    """Does the clause before a claim point back at the item under discussion (or have no subject at all)?"""
    words = [w.lower() for w in re.findall(r"[\w']+", _CLAUSE.split(sentence[:start])[-1])]
    while words and words[-1] in _FILLER:
        words.pop()
    return not words or words[-1] in _PRONOUNS or (
        words[-1] in _BACK_NOUNS and len(words) > 1 and words[-2] in _DETERMINERS)


def availability_problems(text: str, items: list[DraftItem], alternatives: list[DraftItem] = (),
                          shared: frozenset[str] = frozenset()) -> list[str]:
    """'Available today' may only be said of a shipped item the draft cites or offers as the alternative. A claim in
    a sentence that names none of them must point back at the item ("it is live"): "our mobile app is available
    today" next to a shipped item is a claim no roadmap item backs."""
    problems = []
    for sentence in split_sentences(text):
        for m in AVAILABLE_RE.finditer(sentence):
            if _hedged(sentence, m.start()):
                continue
            phrase = " ".join(m.group(0).split())
            offered = _named(sentence, list(alternatives), shared)  # as a cited item is named: id, title or own term
            in_clause = _named(_clause(sentence, m), list(items) + offered, shared)
            named = in_clause or _named(sentence, list(items) + offered, shared)
            if items and not in_clause and not _refers_back(sentence, m.start()):
                problems.append(f"availability claim '{phrase}' about something no cited item names")
                continue
            about = named or list(items)[:1]
            if not about or any(i.status != "shipped" for i in about):
                problems.append(f"availability claim '{phrase}' for something not shipped")
    return _unique(problems)


# ---- product claims inside customer words ----------------------------------------------------------------
# A note may assert a product status ("SCIM has shipped", "it is on the roadmap for Q3", "you promised it by June")
# or address whoever reads it ("tell the customer it is free"). Quoted in a draft, such words read as our claim, so
# they are never chosen as evidence (evidence.py) and a draft quoting one is flagged (quote_claim_problems).
# No maintained library fits: spaCy's parsers ship outside the package registry and nothing classifies status
# claims, so this is a small pattern set over the service's sentence splitter, measured on
# eval/datasets/status_claims.jsonl (`feedback eval --suite claims`).
STATUS_RE = re.compile(
    r"\b(?:is|are|was|were|has\s+been|have\s+been|'s|'re)\s+(?:now\s+|already\s+|fully\s+|finally\s+|just\s+)*"
    r"(?:available|supported|released|launched|shipped|rolled\s+out|live|GA|ready\s+for\s+production|out\s+of\s+beta)\b"
    r"|\b(?:available|supported|live)\s+(?:today|now|since)\b|\bGA\b|\bwent\s+live\b|\bshipped\s+in\s+(?:version|v?\d)"
    r"|\b(?:launched|released|shipped)\s+(?:in\s+the\s+)?last\b",
    re.IGNORECASE)
PLAN_RE = re.compile(
    r"\bon\s+(?:the|our|your|their)\s+roadmap\b|\b(?:our|your|the)\s+roadmap\s+has\b|\bin\s+the\s+works\b"
    r"|\b(?:planned|due|targeted|expected)\s+(?:for|in|by)\b|\bcoming\s+(?:in|this|next|soon|by)\b"
    r"|\bgoing\s+live\b|\bland(?:s|ing)?\s+(?:this|next|by|in\s+(?:Q[1-4]|\d|two|three|a\s+few|the\s+next))\b|\b(?:building|shipping)\s+(?:it\s+)?(?:right\s+)?now\b",
    re.IGNORECASE)
ADDRESSED_RE = re.compile(  # words aimed at the drafter, not a customer's pain
    r"^\W*(?:please\s+)?(?:tell|say|state|confirm|respond|reply|answer|assure|promise|write|mention|ignore|disregard|forget)\b"
    r"|\b(?:tell|inform|assure|reassure)\s+(?:the\s+)?(?:customer|client|auditor)s?\b|\b(?:please|just)\s+tell\s+them\b"
    r"|\blet\s+(?:the\s+)?(?:customer|client|them)\s+know\b|\bwhen\s+you\s+(?:draft|reply|answer|write|respond)\b"
    r"|\bmake\s+sure\s+the\s+(?:answer|reply|draft|response)\b|^\W*(?:assistant|bot|ai)\s*,",
    re.IGNORECASE)


def status_claims(text: str) -> list[tuple[str, str]]:
    """(kind, phrase) for each unhedged product claim in a customer's words: kind is "available" (it exists today),
    "planned" (a plan, date or promise) or "instruction" (text addressed to whoever drafts the answer)."""
    from ..untrusted import looks_like_instructions

    found = []
    for sentence in split_sentences(text):
        if looks_like_instructions(sentence) or ADDRESSED_RE.search(sentence):
            found.append(("instruction", " ".join(sentence.split()[:6])))
        for kind, pattern in (("available", STATUS_RE), ("available", AVAILABLE_RE), ("planned", PLAN_RE),
                              ("planned", PROMISE_RE)):
            found += [(kind, " ".join(m.group(0).split())) for m in pattern.finditer(sentence)
                      if not _hedged(sentence, m.start())]
    return _unique(found)


def quote_claim_problems(quotes: list[str], items: list[DraftItem], verdict: str) -> list[str]:
    """A quoted claim the cited item's status contradicts: "has shipped" for an item that has not, a plan or date
    for an item not committed (or beyond its release), and any quote addressed to the drafter."""
    problems = []
    first = items[0] if items else None
    status = first.status if first else verdict
    for quote in quotes:
        claims = status_claims(quote)
        for kind, phrase in claims:
            if kind == "instruction":
                problems.append(f"quote gives instructions: '{phrase}'")
            elif (kind == "available" and status != "shipped") or (
                    kind == "planned" and status not in ("planned", "in_progress")):
                problems.append(f"quote claims '{phrase}' but the item is {status}")
        if first is not None and any(kind == "planned" for kind, _ in claims):
            problems += [f"quote {p}" for p in date_problems(quote, items)]
    return _unique(problems)


# ---- internal details, personal data, quotes ---------------------------------------------------------------
INTERNAL_RES = [
    re.compile(r"\bRICE\b"), re.compile(r"\bscor(?:e|es|ed|ing)\b", re.I), re.compile(r"\bARR\b"),
    re.compile(r"\b(?:the|its|a|high|low|estimated|total)\s+reach\b|\breach\b(?=\s*(?:[:=]|\d))", re.I),
    re.compile(r"\b(?:priority|impact|confidence|effort)\s*(?:of|is|=|:)\s*\d", re.I),
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:/\s*10|/\s*100|points|pts)\b", re.I), re.compile(r"\bchurn\b", re.I),
]
EMAIL_RE = re.compile(EMAIL_PATTERN)  # the addresses redaction finds, in any script
PHONE_RE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,5}\)\s?|\d{2,5}[\s.\-])\d{2,5}"
                      r"(?:[\s.\-]\d{2,5}){0,3}(?![\w])"
                      r"|(?<![\w.+])\+?\d{10,13}(?!\w)")


def item_ids_in(text: str) -> list[str]:
    return _unique(m.group(0) for m in ITEM_ID_RE.finditer(text) if m.group(1) not in STANDARD_PREFIXES)


def internal_problems(text: str, other_accounts: list[str] = ()) -> list[str]:
    """Customer drafts: no item ids, scores, internal metrics or other customers' names."""
    problems = [f"internal item id {i}" for i in item_ids_in(text)]
    problems += [f"internal term '{m.group(0)}'" for r in INTERNAL_RES for m in r.finditer(text)]
    low = text.lower()
    problems += [f"names another account ({a})" for a in other_accounts if a and a.lower() in low]
    return _unique(problems)


def pii_problems(text: str, allowed: str = "") -> list[str]:
    """Emails and phone numbers, except those the asker wrote into the question themselves."""
    phones = [m.group(0) for m in PHONE_RE.finditer(EMAIL_RE.sub(" ", text))
              if 7 <= len(re.sub(r"\D", "", m.group(0))) <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.group(0))
              and not all(len(g) == 4 and g[:2] == "20" for g in re.findall(r"\d+", m.group(0)))]
    return [f"personal data ({'email' if '@' in v else 'phone number'})" for v in EMAIL_RE.findall(text) + phones
            if v not in (allowed or "")]


def _verbatim(fragment: str, sources: list[str]) -> bool:
    frag = " ".join(fragment.split())
    return bool(frag) and any(frag in s or (frag[0].swapcase() + frag[1:]) in s for s in sources)


def quote_problems(text: str, quotes: list[str], evidence_quotes: list[str]) -> list[str]:
    """Listed quotes and double-quoted spans of 3+ words must be copied from the evidence, character for character."""
    sources = [" ".join(normalize(q).split()) for q in evidence_quotes if q]
    problems = [f"quote is not verbatim from the evidence: '{q[:60]}'" for q in quotes
                if not _verbatim(normalize(q).strip().rstrip(".,;:!?"), sources)]
    for m in _QUOTED.finditer(normalize(text)):
        inner = m.group(1).strip().rstrip(".,;:!?").strip()
        if len(inner.split()) >= 3 and not all(_verbatim(f, sources) for f in re.split(r"\s*\.\.\.\s*", inner) if f):
            problems.append(f"quoted text is not verbatim from the evidence: '{inner[:60]}'")
    return _unique(problems)


def quoted_spans(text: str) -> list[str]:
    """The double-quoted spans of a draft: masked as customer words for our own claims, checked for theirs."""
    return [m.group(1) for m in _QUOTED.finditer(normalize(text))]


def mask_quotes(text: str, evidence_quotes: list[str]) -> str:
    """Blank out quoted customer words, so their own dates and wishes are not read as our claims."""
    sources = [" ".join(normalize(q).split()) for q in evidence_quotes if q]

    def blank(m: re.Match) -> str:
        inner = m.group(1).strip().rstrip(".,;:!?").strip()
        return " " * len(m.group(0)) if _verbatim(inner, sources) else m.group(0)

    return _QUOTED.sub(blank, normalize(text))


def _mask_titles(text: str, items) -> str:
    """Blank out the titles of the items a draft may name: "Driver safety scoring" is the item's name, not a score."""
    for title in sorted({normalize(i.title).strip().rstrip(".") for i in items if i.title.strip()}, key=len,
                        reverse=True):
        text = re.sub(re.escape(title), lambda m: " " * len(m.group(0)), text, flags=re.IGNORECASE)
    return text


# ---- all together ------------------------------------------------------------------------------------------
MAX_WORDS = 220


def check_draft(text: str, cited_ids: list[str], quotes: list[str], ctx: DraftContext) -> list[str]:
    """Every problem with a draft answer for this context; an empty list means it may be shown."""
    given = {i.id: i for i in ctx.items}
    mentionable = set(given) | {a.id for a in ctx.alternatives}
    problems = [f"cites item {i}, which was not given" for i in cited_ids if i not in given]
    problems += [f"names item {i}, which was not given" for i in item_ids_in(text) if i not in mentionable]
    if ctx.verdict != NOT_ON_ROADMAP and ctx.items and (not cited_ids or cited_ids[0] != ctx.items[0].id):
        problems.append(f"must cite the best item {ctx.items[0].id} first")
    cited = [given[i] for i in cited_ids if i in given]
    # Customer drafts quote only the asking account's own words; internal drafts may quote any evidence.
    quotable = [e.quote for e in (ctx.own_evidence if ctx.audience == "customer" else ctx.evidence)]
    masked = mask_quotes(text, quotable)
    problems += date_problems(masked, cited)
    problems += promise_problems(masked, ctx.verdict, cited, ctx.shared_title_terms)
    problems += availability_problems(masked, cited, ctx.alternatives, ctx.shared_title_terms)
    problems += quote_problems(text, quotes, quotable)
    problems += pii_problems(text, allowed=ctx.question)
    if ctx.audience == "customer":
        others = sorted({e.account for e in ctx.evidence if e.account and e.account != ctx.account})
        problems += internal_problems(_mask_titles(masked, ctx.items + ctx.alternatives), others)
        problems += quote_claim_problems(list(quotes) + quoted_spans(text), cited, ctx.verdict)
    if word_count(text) > MAX_WORDS:
        problems.append(f"too long: {word_count(text)} words, at most {MAX_WORDS}")
    return _unique(problems)


def report(text: str, problems: list[str]) -> dict:
    """What is stored with a draft: the verdict of the checks and the numbers a reviewer looks at."""
    return {"passed": not problems, "problems": problems, "words": word_count(text),
            "readability_grade": round(readability_grade(text), 2)}


# ---- readability -------------------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z0-9]+(?:['.\-][A-Za-z0-9]+)*")


def syllables(word: str) -> int:
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) <= 3:
        return 1
    n = len(re.findall(r"[aeiouy]+", w[1:] if w[0] == "y" else w)) + (w[0] == "y" and w[1] not in "aeiou")
    if n > 1 and ((w.endswith("e") and not w.endswith(("ee", "ye")) and not re.search(r"[^aeiouy]le$", w))
                  or (w.endswith("es") and not re.search(r"(?:s|x|z|ce|ge|sh|ch)es$", w) and not w.endswith("ies"))
                  or (w.endswith("ed") and not re.search(r"[td]ed$", w) and not w.endswith("eed"))):
        n -= 1
    return max(1, n)


def readability_grade(text: str) -> float:
    """Flesch-Kincaid grade with a plain syllable heuristic; line breaks end sentences like full stops."""
    text = normalize(text)
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = [s for s in split_sentences(text) if _WORD.search(s)]
    return 0.39 * len(words) / max(1, len(sentences)) + 11.8 * sum(map(syllables, words)) / len(words) - 15.59


def word_count(text: str) -> int:
    return sum(1 for t in (text or "").split() if re.search(r"\w", t))


def split_sentences(text: str) -> list[str]:
    """The service's one sentence splitter (service/text.py): line breaks end sentences too."""
    return sentences(text or "")


def _unique(values) -> list:
    return list(dict.fromkeys(v for v in values if v))
