"""Offline statement selection: is a statement a pain (problem or request), praise, or other?

Nearest-prototype voting in embedding space, nudged by a few lexical cues:
- every class has a few dozen hand-written prototype sentences from varied products and phrasings;
  a statement scores, per class, the mean centred cosine of its most similar third of that class's
  prototypes (a soft kNN vote, robust to one odd prototype);
- sentence embeddings blur polarity ("login works" vs "login doesn't work" are close), so cheap
  cues for negation/failure, requests, praise and logistics add a small bonus to their class.
Prototype vectors are embedded once per embedder and cached.
"""
from __future__ import annotations

import re
import threading
from typing import Sequence

import numpy as np

CLASSES = ("pain", "praise", "other")
TOP_FRACTION = 1 / 3  # share of a class's prototypes averaged: a soft vote, not a single lucky match
CUE_BONUS = 0.06  # a cue tips a close call between classes but cannot overrule a clear embedding match

# Pain and praise prototypes cover the same product areas on purpose: topic then cancels out in the
# vote and what decides is polarity and intent. Sales notes are often third person ("they want..."),
# so every class mixes first- and third-person phrasing. "other" includes account background facts.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "pain": (
        "the export keeps timing out on big reports",
        "large downloads fail halfway through",
        "we still can't log in with our SSO provider",
        "new users have to be created by hand because there is no automatic provisioning",
        "we need a connector for our data warehouse",
        "they want to query their warehouse directly instead of copying data",
        "the dashboard takes forever to load",
        "every click on a chart means waiting ten seconds",
        "the app crashes when I upload a large file",
        "it's really hard to find the settings page",
        "notifications arrive hours late",
        "please add role-based permissions",
        "they need finer-grained access control than admin and viewer",
        "it would be great if we could schedule reports",
        "the mobile app logs me out every day",
        "charts are unreadable on a phone",
        "pricing is too expensive for a small team",
        "syncing with the CRM creates duplicate records",
        "there is no way to bulk edit records",
        "we are blocked until you support SAML",
        "the integration broke after the last update",
        "billing charged us twice this month",
        "their security team requires an audit trail of who changed what",
        "the charts don't show the right numbers",
        "can you add an option to export to Excel",
        "they keep hitting the API rate limit during nightly jobs",
        "errors when importing CSV files",
        "legal won't approve it until our data is hosted in the EU",
        "they can't use it for patient data without a signed compliance agreement",
        "the documentation is outdated and incomplete",
        "uploads fail without any error message",
        "could you add a way to archive old projects?",
        "is there any plan to support multiple currencies?",
        "their admin spends hours every month fixing this manually",
        "a competitor already offers this and they are considering switching",
        "scheduled emails sometimes never arrive",
        "search is slow",
        "no Slack alerts yet",
        "they asked whether we support single sign-on with Azure",
    ),
    # Requests and questions about what the product does are demand too, even when nothing is broken:
    # "how do I...", "show me...", "what happens when...". Varied products on purpose. They vote for pain
    # (see `prototype_scores`) but are not part of the centring, so the pain/praise/other contrast stays.
    "request": (
        "how do I change the delivery address on my order",
        "what is the price of the premium plan",
        "when will my refund arrive",
        "show me last month's transactions",
        "I want to cancel my subscription",
        "does the app work offline",
        "why was my card declined",
        "help me reset my password",
        "I'd like to switch to the annual plan",
        "where do I download my invoices",
        "what happens to my files if I delete a workspace",
        "turn on dark mode for everyone",
        "can I pay in monthly instalments",
        "is the mobile app available in Spanish",
        "tell me how to connect my bank account",
        "book a technician visit for the broken unit",
        "what does the sync status icon mean",
        "do you deliver to rural areas",
    ),
    "praise": (
        "we love the new dashboard",
        "the export feature works great",
        "SSO setup went perfectly",
        "the warehouse connector has been rock solid",
        "dashboards load instantly now",
        "the new permissions model is exactly what we needed",
        "the mobile app is excellent",
        "the CRM sync has been flawless",
        "your support team is fantastic",
        "setup was quick and easy",
        "the Slack integration saves us hours every week",
        "really happy with the product overall",
        "thanks for fixing that bug so quickly",
        "onboarding was smooth",
        "the API is well designed and easy to use",
        "they said their managers love the weekly summary",
        "they were impressed by how fast the new release is",
        "the customer praised the new editor",
        "it just works, no complaints",
        "the new search is a big improvement",
        "great job on the latest release",
        "they're very satisfied with the reliability",
        "the UI is clean and intuitive",
        "everyone on the team enjoys using it",
        "the automation rules are brilliant",
        "we really like the new calendar view",
        "the last release fixed the issues we reported, thank you",
        "usage has grown a lot since the rollout and people like it",
        "the audit log gave our auditors everything they asked for",
        "congratulations on the launch",
    ),
    "other": (
        "let's sync next Tuesday",
        "hi everyone, thanks for joining",
        "can you send me the slides after the call",
        "I'll loop in our IT lead",
        "how was your weekend",
        "we're a team of about fifty people",
        "our contract renews in March",
        "let me share my screen",
        "I have a hard stop at three",
        "sounds good, talk soon",
        "they use Salesforce and HubSpot today",
        "I'll follow up by email with the details",
        "next step is a demo for the wider team",
        "they are based in Berlin and London",
        "sorry, I'm running a few minutes late",
        "let's schedule a follow-up meeting",
        "their fiscal year starts in April",
        "thanks, have a great day",
        "who else should be on the next call",
        "she joined the company last month as head of analytics",
        "they're evaluating a few vendors this quarter",
        "please send the invoice to our finance team",
        "let's go through the agenda",
        "okay, moving on to the next topic",
        "give me a minute to find the document",
        "does Wednesday morning work for you",
        "you can reach me at my work email or mobile number",
        "call with the operations team at a logistics company",
        "they have around 300 users in four regions",
        "sent the pricing proposal after the meeting",
        "the champion is their director of finance",
        "they moved the review to next month",
        "quick recap of today's call below",
        # Account context a rep writes down: growth, people, team size, current tools, strategy, paperwork,
        # mood of the call, deal risk, follow-up status. Useful to sales, but not a pain to build a theme on.
        "the company is growing quickly and hiring",
        "they hired a new head of engineering who is reviewing all vendors",
        "their analytics team is only three people",
        "today most of their reporting is done in spreadsheets",
        "they have a cloud-first strategy this year",
        "waiting on their legal team to return the contract redlines",
        "we owe them answers to the security questionnaire by Monday",
        "great energy on the call, they want to move quickly",
        "the deal could slip if procurement takes too long",
        "shared a workaround with them and will check in next week",
        "they are consolidating several tools into one platform",
        "budget was approved for next year",
    ),
}

# Negation counts as a failure only when it negates an ability or an action ("can't log in", "doesn't
# load", "never arrives"), not in asides such as "not urgent" or "not a good sign".
_NEG = (r"(?:can'?t|cannot|can not|couldn'?t|unable to|not able to|no way to|no longer"
        r"|(?:doesn'?t|don'?t|didn'?t|won'?t|isn'?t|aren'?t|wasn'?t|weren'?t|not|never)\s+(?:\w+\s+)?"
        r"(?:work|load|sync|arriv|finish|match|show|support|export|render|sav|connect|let|allow|get|see|scal|run"
        r"|open|send|fit|update|refresh|import|respond|handle|come)\w*)")
CUES: dict[str, tuple[re.Pattern, ...]] = {
    "pain": tuple(re.compile(p, re.I) for p in (
        rf"\b{_NEG}\b",
        r"\b(?:need|needs|needed|must|require[sd]?|wish|wants?|wanted|missing|lack(?:s|ing)?|please add"
        r"|(?:would|['’]d) (?:be|love|like)"
        r"|should|(?:can|could) (?:we|you) (?:get|have|add|support)|any plans? to|any chance|is there (?:a|an|any)"
        r"|(?:do|does|will|can) you (?:support|have|offer|sign|provide)|would (?:help|save|make|let|allow)"
        r"|you['’]ll (?:support|have|offer|sign|provide|add)|on the (?:roadmap|way)|wish ?list)\b",
        # a commitment that hangs on something missing: "we'd sign a 3-year deal if there were an EU region"
        r"\b(?:would|['’]d) (?:\w+ ){0,2}(?:sign|buy|expand|renew|upgrade|roll|move|switch|commit|pay|add|use)\b.*\bif\b",
        # asking whether something exists: "is a BAA available on the enterprise plan?"
        r"\b(?:is|are) (?:there |a |an |the )?(?:\w+ ){0,3}(?:available|possible|supported)\b.*\?",
        r"\b(?:error|errors|bug|bugs|broken|break[s]?|crash\w*|fail\w*|slow\w*|time[sd]? out|timing out|timeout\w*"
        r"|stuck|freez\w*|lag\w*|confus\w*|hard to|difficult|painful|annoying|frustrat\w*|expensive|wrong|lost|losing"
        r"|blocked|blocker|issue[s]?|problem[s]?|workaround|outdated|late|too (?:slow|long|many|much|low|high)"
        r"|terrible|awful|horrible|nightmare|useless|clunky|unusable|impossible|complain\w*|crawl\w*|sluggish"
        r"|unreliable|missed|mess|messy|no faster|manual(?:ly)?)\b",
    )),
    "praise": tuple(re.compile(p, re.I) for p in (
        r"\b(?:love[sd]?|great|excellent|fantastic|awesome|amazing|brilliant|impressed|happy|satisfied|enjoy\w*"
        r"|intuitive|smooth(?:ly)?|helpful|useful|perfect(?:ly)?|kudos|well done|nice work|big improvement|(?:really|"
        r"also|all) like|pleased|solid|reliable|game changer|saves? (?:us )?(?:\w+ )?(?:time|hours))\b",
        r"\b(?:thanks?|thank you)\b.*\b(?:fix\w*|ship\w*|add\w*|update|release|quick\w*|help\w*)\b"
        r"|\b(?:fix\w*|ship\w*|solved|resolved)\b.*\b(?:thanks?|thank you)\b",
    )),
    "other": tuple(re.compile(p, re.I) for p in (
        r"\b(?:hi|hello|hey|good (?:morning|afternoon)|bye|talk soon|see you|have a (?:good|great|nice))\b",
        r"\b(?:let\'?s sync|sync up|meeting|call|agenda|schedule a|follow[- ]up|slides|invoice|contract"
        r"|next (?:week|monday|tuesday|wednesday|thursday|friday)|hard stop|share my screen|can you hear)\b",
    )),
}
# "would be great if", "it'd be great to" are requests, not praise.
_REQUEST_NOT_PRAISE = re.compile(r"\b(?:would|['’]d|will) be (?:great|nice|awesome|amazing|helpful|useful)\b", re.I)
# Negated praise words are complaints: "not great", "just not reliable", "wasn't very intuitive".
_NEGATED_PRAISE = re.compile(
    r"\b(?:not|never|hardly|(?:is|are|was|were|do|does|did|has|have|had)n['’]?t)\s+"
    r"(?:(?:very|that|so|too|really|quite|always|particularly|exactly|fully|entirely|as)\s+)?"
    r"(?:great|good|reliable|stable|happy|satisfied|intuitive|smooth|helpful|useful|solid|impressed|pleased"
    r"|perfect|ideal|usable|fast|quick|easy)\b", re.I)

_cache: dict[tuple, dict[str, np.ndarray]] = {}
_cache_lock = threading.Lock()


def prototype_vectors(embedder) -> dict[str, np.ndarray]:
    """Prototype embeddings per class, computed once per embedder (keyed by its name and size)."""
    key = (getattr(embedder, "name", type(embedder).__name__), getattr(embedder, "dim", None))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = {c: np.asarray(embedder.embed(list(PROTOTYPES[c])), dtype=np.float32) for c in PROTOTYPES}
        return _cache[key]


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def prototype_scores(vectors: np.ndarray, protos: dict[str, np.ndarray],
                     top_fraction: float = TOP_FRACTION) -> np.ndarray:
    """(n, 3) per class: mean cosine to its nearest prototypes, after centring on the mean of all
    prototypes. Centring removes what every business sentence shares, which otherwise dominates
    cosine and hides the polarity and intent that tell the classes apart."""
    mean = np.vstack([protos[c] for c in CLASSES]).mean(axis=0)
    v = _unit(vectors - mean)

    def vote(c):
        sims = v @ _unit(protos[c] - mean).T
        m = max(1, round(sims.shape[1] * top_fraction))
        return -np.sort(-sims, axis=1)[:, :m].mean(axis=1)

    out = np.stack([vote(c) for c in CLASSES], axis=1).astype(np.float32)
    if "request" in protos:  # a request or a question about the product is demand: the better of the two votes
        pain = CLASSES.index("pain")
        out[:, pain] = np.maximum(out[:, pain], vote("request"))
    return out


def cue_counts(text: str) -> np.ndarray:
    """How many cue families of each class fire on the text (requests phrased as praise count as pain)."""
    counts = np.array([sum(bool(p.search(text)) for p in CUES[c]) for c in CLASSES], dtype=np.float32)
    if _REQUEST_NOT_PRAISE.search(text) or _NEGATED_PRAISE.search(text):
        counts[CLASSES.index("pain")] += 1
        counts[CLASSES.index("praise")] = 0
    return counts


def class_scores(texts: Sequence[str], vectors: np.ndarray, embedder) -> np.ndarray:
    """(n, 3) evidence per class (columns in CLASSES order): prototype vote plus cue bonuses."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, len(CLASSES)), dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    scores = prototype_scores(vectors, prototype_vectors(embedder))
    scores += CUE_BONUS * np.stack([cue_counts(t) for t in texts])
    return scores


def decide(scores: np.ndarray) -> list[str]:
    # argmax picks the first class on an exact tie, so pain (the useful class) wins ties.
    return [CLASSES[i] for i in np.asarray(scores).argmax(axis=1)]


def classify(texts: Sequence[str], vectors: np.ndarray, embedder) -> list[str]:
    """One of 'pain', 'praise', 'other' per text; `vectors` are the texts' unit embeddings."""
    return decide(class_scores(texts, vectors, embedder))


def theme_evidence(scores: np.ndarray, near_theme: np.ndarray) -> np.ndarray:
    """Which non-pain statements turn out to be pains once the corpus' pain themes are known.

    A statement that sits inside a pain theme (as close to its centroid as the theme's own members, see
    `cluster.choose_threshold`) is one more piece of evidence for pain, weighted like one lexical cue: it
    tips a close call ("An app for the drivers is on our wish list" read as praise by a hair) but cannot
    overrule a clear praise or small-talk reading."""
    scores = np.asarray(scores, dtype=np.float32).copy()
    near = np.asarray(near_theme, dtype=bool)
    pain = CLASSES.index("pain")
    was_pain = scores.argmax(axis=1) == pain
    scores[near, pain] += CUE_BONUS
    return near & ~was_pain & (scores.argmax(axis=1) == pain)
