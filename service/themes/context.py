"""Theme-level check: is a theme about the product, or is it small talk and account context?

Statement selection (`select`) reads one sentence at a time and lets some meeting chatter and account background
through ("Pinging legal about the MSA redlines", "Their data team is two people plus a contractor"); a handful
of similar ones then form a theme. This check looks at a whole theme instead: a logistic regression on the
packaged embeddings, fitted on context lines (greetings, logistics, paperwork, team size, deal mood: the
`select` "other" prototypes plus the dev half of eval/datasets/small_talk.jsonl) against product lines (the
pain, praise and request prototypes plus more requests and questions about what a product does). A theme whose statements
nearly all read as context is not a theme: its statements go to "not a pain". Because the written product lines
are few, a theme is only dropped when it also reads as context next to the corpus' other statements
(`pool_model`, `context_clusters`).

The test half of eval/datasets/small_talk.jsonl is never used here; `eval.bench_themes --small-talk` reports
both halves. The model is fitted once per embedder (a few hundred lines, deterministic lbfgs) and cached.
"""
from __future__ import annotations

import functools
import re
import threading

import numpy as np

# A sentence pasted word for word into at least this many statements is boilerplate when it reads as context.
PASTED_MIN = 3

# A theme is context when more than four in five of its statements read as context. A bare majority also dropped
# whole hwu64 request themes (the classifier has seen few requests of that kind); on the small-talk dev mix every
# small-talk theme is above 0.9 (eval/README.md, "Themes: small talk").
CONTEXT_SHARE = 0.8

# The dev half of eval/datasets/small_talk.jsonl (split "dev"), verbatim; a test checks they stay in step.
CONTEXT_LINES: tuple[str, ...] = (
    "Good morning, can everyone hear me okay?",
    "Thanks again for hosting us last week.",
    "Hope you had a relaxing long weekend.",
    "How was the conference in Lisbon?",
    "I'll keep this short, I know you have a board meeting after.",
    "Let me share my screen so we're looking at the same thing.",
    "You're on mute, I think.",
    "Can you see the deck now?",
    "I'll drop the link to the recording in the chat.",
    "Let's park that and come back to it at the end.",
    "Okay, let's jump into the agenda.",
    "First item on the agenda is the renewal timeline.",
    "Can we move our Thursday check-in to Friday morning?",
    "I'll send a calendar invite for the follow-up.",
    "I'll circle back with notes by end of day.",
    "Sending the recap email tonight.",
    "Thanks everyone, talk soon.",
    "Have a great rest of your week.",
    "Bye for now.",
    "Pinging legal about the MSA redlines.",
    "Contract signature is slated for the 15th.",
    "They need three vendor quotes before purchasing can approve.",
    "Their fiscal year ends in June.",
    "Budget planning for next year starts in October.",
    "Really positive energy from the whole group today.",
    "The deal could slip to next quarter.",
    "Procurement is dragging its feet on this one.",
    "They're also talking to two other vendors.",
    "They want a discount for a multi-year commitment.",
    "Adding Tom from customer success to the thread.",
    "Can you introduce me to whoever owns the budget?",
    "The site visit is confirmed for the 3rd.",
    "Travel is approved for the kickoff in Munich.",
    "Quick recap of today's call below.",
    "Notes from the quarterly business review.",
    "Following up on the voicemail I left yesterday.",
    "Looping back on my email from last week.",
    "Appreciate you walking us through the org chart.",
    "Congrats on the new baby, by the way.",
    "Happy birthday to Sam on their team.",
    "We chatted about the football match for a few minutes.",
    "The weather in Chicago has been brutal this week.",
    "Sorry, my connection dropped for a second.",
    "Let me grab a coffee, back in two.",
    "Attendees: Ana, Raj, Li and me.",
    "Intro call with the new IT director.",
    "We agreed to meet monthly going forward.",
    "Their IT team is moving offices next month so expect slow replies.",
    "Their CFO prefers annual invoicing.",
    "They asked us to send the quote in euros.",
    "Legal wants the governing law changed to Delaware.",
    "They liked the case study we sent over.",
    "Let's continue this conversation over email.",
    "That's all I had, anything else from your side?",
    "Nothing else from me, thanks!",
    "Let's do quick introductions around the table.",
    "Catch you at the user conference in May.",
    "The mutual NDA is signed on both sides now.",
    "We still need a signature from their general counsel.",
    "The order form was routed to DocuSign this afternoon.",
    "Net 60 payment terms were accepted by finance.",
    "Their team is five engineers and one product manager.",
    "About a dozen people will attend the training.",
    "The marketing department has eight people split across two time zones.",
    "They employ roughly two thousand drivers nationwide.",
    "Priya is moving to the London office in the new year.",
    "The group seemed cautiously optimistic.",
    "Honestly the call felt flat, nobody asked questions.",
    "They went quiet after the pricing slide.",
    "Can someone take notes while I present?",
    "Their offices are in a different time zone, so mornings work best.",
    "Most of their customers are regional hospitals.",
    "Shout-out to Lena for organising the offsite.",
    "I think that covers everything on the agenda.",
    "We ran ten minutes over, thanks for your patience.",
)

# More requests and questions about what a product does, on the product side of this check only (the
# `select` "request" prototypes vote for pain as well). Varied products on purpose; none is taken from an
# evaluation set.
REQUEST_LINES: tuple[str, ...] = (
    "can you set a reminder for the renewal call next week",
    "please turn on dark mode for my account",
    "show me the invoices from last month",
    "how do I change the language of the app to Spanish",
    "what time does the nightly sync run",
    "add the meeting to my calendar automatically",
    "does the app tell me when a delivery is late",
    "I want the weekly summary emailed to me every Monday",
    "can it read my notifications out loud",
    "how do I delete an old project",
    "play the onboarding video again from the start",
    "book a room through the app for Thursday",
    "what's the status of my last order",
    "send an alert when the balance drops below a limit",
    "can I turn off the sound on alerts",
    "can I get back a message I deleted by mistake",
    "how many records can one import hold",
    "turn the dashboard into a PDF I can share",
    "does the mobile app work offline",
    "why did my password reset email never come",
    "find all tickets assigned to me",
    "can the assistant translate a customer email",
    "where do I see my usage for this month",
    "can you remind me to follow up in three days",
    "remove the duplicate contacts from my list",
    "what does the red status icon mean",
    "convert the prices to euros in the report",
    "let me pick a different time zone for reports",
    "tell me which users logged in today",
    "order more seats without calling sales",
    "how do I switch the chart to a weekly view",
    "can it recommend which leads to call first",
    "start the import again from where it stopped",
    "is the data refreshed in real time or hourly",
    "set the default currency to pounds",
    "lower the number of emails the app sends me",
    "can I search old notes by account name",
    "make the font bigger on the reading view",
    "what's the forecast for ticket volume next week",
    "cancel my scheduled export for tonight",
)

# Statements of the corpus that teach `pool_model` what this corpus' requests look like, at most.
POOL_SAMPLE = 4000

# Rows per predict_proba call in `context_probability`.
_CHUNK = 8192

_cache: dict[tuple, object] = {}
_lock = threading.Lock()


def _lines(embedder) -> tuple[np.ndarray, np.ndarray]:
    """The written lines' vectors and targets (1: context, 0: product), embedded once per embedder."""
    from .select import PROTOTYPES

    key = ("lines", getattr(embedder, "name", type(embedder).__name__), getattr(embedder, "dim", None))
    with _lock:
        if key not in _cache:
            context = list(PROTOTYPES["other"]) + list(CONTEXT_LINES)
            product = [*PROTOTYPES["pain"], *PROTOTYPES["praise"], *PROTOTYPES["request"], *REQUEST_LINES]
            x = np.asarray(embedder.embed(context + product), dtype=np.float64)
            _cache[key] = (x, np.r_[np.ones(len(context)), np.zeros(len(product))])
        return _cache[key]


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(x, y)


def _model(embedder):
    x, y = _lines(embedder)
    key = ("model", getattr(embedder, "name", type(embedder).__name__), getattr(embedder, "dim", None))
    with _lock:
        if key not in _cache:
            _cache[key] = _fit(x, y)
        return _cache[key]


def context_probability(vectors: np.ndarray, embedder) -> np.ndarray:
    """Per statement, the probability that it is small talk or account context rather than about the product."""
    return probability(_model(embedder), vectors)


def pool_model(vectors: np.ndarray, pains: np.ndarray, embedder):
    """The context model refitted with statements of this corpus (`pains`, indices into `vectors`) on the product
    side.

    The fixed model knows about a hundred product lines, all written for it; a corpus of short commands and
    questions to a product ("play my morning playlist", "current time please") reads to it much like chatter
    (eval/README.md). The corpus' own pains show what requests look like there, so they join the product side
    (at most POOL_SAMPLE of them, the smallest `graph.node_keys`: a fixed sample an appended note rarely
    changes); the context side stays the written context lines alone. Deterministic (lbfgs); the fixed model
    when there are no pains."""
    from .graph import node_keys

    pains = np.asarray(pains, dtype=np.int64)
    if not len(pains):
        return _model(embedder)
    if len(pains) > POOL_SAMPLE:
        pains = np.sort(pains[np.lexsort((pains, node_keys(np.asarray(vectors)[pains])))[:POOL_SAMPLE]])
    x, y = _lines(embedder)
    return _fit(np.vstack([x, np.asarray(vectors)[pains].astype(np.float64)]), np.r_[y, np.zeros(len(pains))])


def probability(model, vectors: np.ndarray) -> np.ndarray:
    """P(context) per row, in chunks: the model wants float64, and a float64 copy of 100,000 statement vectors
    (300 MB) was the theme job's peak memory."""
    if not len(vectors):
        return np.zeros(0)
    return np.concatenate([model.predict_proba(np.asarray(vectors[i:i + _CHUNK], dtype=np.float64))[:, 1]
                           for i in range(0, len(vectors), _CHUNK)])


def context_clusters(vectors: np.ndarray, labels: np.ndarray, embedder) -> list[int]:
    """Cluster labels (>= 0) whose statements are mostly context.

    Mostly context to the fixed model, and also to a `pool_model` fitted on the statements outside the cluster
    (so it has not seen the theme it judges): a theme of a corpus' requests that the fixed model takes for
    chatter (hwu64's time and date questions) reads like the corpus' other requests and stays, while small talk
    still reads like the context lines. Only clusters the fixed model flags get a model of their own (three on
    hwu64 all)."""
    labels = np.asarray(labels)
    if not (labels >= 0).any():
        return []
    from .graph import node_keys

    vectors = np.asarray(vectors)
    is_context = context_probability(vectors, embedder) > 0.5
    out, by_key = [], None
    for c in np.unique(labels[labels >= 0]).tolist():
        members = labels == c
        if is_context[members].mean() <= CONTEXT_SHARE:
            continue
        if by_key is None:  # keys once per call and in chunks: node_keys makes two rounded copies of what it reads
            keys = np.concatenate([node_keys(vectors[i:i + _CHUNK]) for i in range(0, len(vectors), _CHUNK)])
            by_key = np.lexsort((np.arange(len(vectors)), keys))
        outside = by_key[~members[by_key]][:POOL_SAMPLE]  # what `pool_model` would sample, without the copy
        model = pool_model(vectors, np.sort(outside), embedder)
        if (probability(model, vectors[members]) > 0.5).mean() > CONTEXT_SHARE:
            out.append(int(c))
    return out


def copy_clusters(texts: list[str], labels: np.ndarray) -> dict[int, str]:
    """Clusters (label -> the repeated sentence, normalised) more than half of whose statements are one sentence
    repeated word for word.

    A theme is several customers saying a thing in their own words. One sentence pasted into many notes (an
    action-item template, an account summary, "Renewal risk if this drags on") is one voice, however often it
    is pasted, and as a theme it drowns the few other statements that happen to sit next to it."""
    from collections import Counter

    labels = np.asarray(labels)
    keys = [normalised(t) for t in texts]
    out = {}
    for c in np.unique(labels[labels >= 0]):
        top, count = Counter(keys[i] for i in np.flatnonzero(labels == c)).most_common(1)[0]
        if count * 2 > int((labels == c).sum()):
            out[int(c)] = top
    return out


def normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def without_account(text: str, account: str | None) -> str:
    """The statement with its own note's account name replaced by a placeholder, for telling copies apart.

    A rep's header template filled in with the account ("Onsite visit at Saffron Hotels.", "Onsite visit at Rheintal
    Pharma.") is one pasted sentence, as a template, whatever account it names: the name is the note's metadata,
    already stored with it, not something the customer said."""
    if not account or not account.strip():
        return text
    return _account_pattern(account.strip()).sub("<account>", text)


@functools.lru_cache(maxsize=4096)
def _account_pattern(account: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(account)}(?!\w)", re.IGNORECASE)


def pasted_context(texts: list[str], vectors: np.ndarray, embedder) -> list[int]:
    """Indices of statements that are one sentence pasted into several notes (at least PASTED_MIN times) and
    read as context ("Pinging legal about the MSA redlines.", "Overall a healthy account."): a rep's boilerplate,
    not a customer's words. Repetition alone proves nothing (customers repeat real pains), so both must hold."""
    from collections import Counter

    keys = [normalised(t) for t in texts]
    counts = Counter(keys)
    repeated = [i for i, k in enumerate(keys) if counts[k] >= PASTED_MIN]
    if not repeated:
        return []
    p = context_probability(np.asarray(vectors)[repeated], embedder)
    return [i for i, pi in zip(repeated, p.tolist()) if pi > 0.5]
