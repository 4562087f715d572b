"""A request's sentences its Decision leaves unanswered (service/roadmap/parts.py): the rule, on a stub matcher.

The real matcher on the bundled roadmap: tests/integration/test_roadmap_real_model.py."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from service.roadmap import parts
from service.roadmap.matcher import MatchResult

ITEMS = [SimpleNamespace(id="RM-1", title="Excel export"), SimpleNamespace(id="RM-2", title="Audit log"),
         SimpleNamespace(id="RM-3", title="On-premises installation")]


class StubMatcher:
    """Each sentence's own answer, by its text: (best item, accepted)."""

    def __init__(self, answers: dict[str, tuple[str, bool]]):
        self.items = ITEMS
        self.answers = answers
        self.asked: list[str] = []

    def match(self, requests, top_k=5, vectors=None, transductive=None):
        self.asked += list(requests)
        out = []
        for text in requests:
            item, accepted = self.answers[text]
            score = 0.8 if accepted else 0.3
            out.append(MatchResult(request=text, matches=[{"item_id": item, "score": score}], in_scope=accepted,
                                   confidence=score, item_id=item if accepted else None, verdict="x"))
        return out


class StubEmbedder:
    name = "stub"

    def embed(self, texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2


@pytest.fixture
def small_talk_is_other(monkeypatch):
    """The theme run's classifier, stubbed: a line starting "Thanks" is small talk, the rest are asks."""
    monkeypatch.setattr("service.themes.select.classify",
                        lambda texts, vectors, embedder: ["other" if t.startswith("Thanks") else "pain" for t in texts])


def test_a_second_ask_no_cited_item_covers_is_a_part_left_unanswered(small_talk_is_other):
    text = "Can we export to Excel? Also, do you offer phone support?"
    fitted = StubMatcher({"Can we export to Excel?": ("RM-1", True), "Also, do you offer phone support?": ("RM-3", False)})
    (found,) = parts.unanswered(fitted, StubEmbedder(), [text], [["RM-1"]])
    assert found == [parts.Part("Also, do you offer phone support?", None, None)]
    warning = parts.warning(found[0], abstained=False)
    assert warning.startswith('this draft does not answer part of the question, "Also, do you offer phone support?"')
    assert "RM-3" not in warning  # the item a part leans to on its own is not named: on the dev sets it was mostly wrong


def test_small_talk_and_parts_the_cited_items_answer_are_not_warned_about(small_talk_is_other):
    text = "Thanks for the call today. Excel exports time out. Also, is there an audit log?"
    fitted = StubMatcher({"Thanks for the call today.": ("RM-3", True), "Excel exports time out.": ("RM-1", True),
                          "Also, is there an audit log?": ("RM-2", True)})
    assert parts.unanswered(fitted, StubEmbedder(), [text], [["RM-1", "RM-2"]]) == [[]]


def test_no_sentence_giving_the_cited_item_means_nothing_is_said(small_talk_is_other):
    """Which part the whole answers is unclear then: a warning would guess."""
    text = "Their admins do everything by hand. They want it automated."
    fitted = StubMatcher({"Their admins do everything by hand.": ("RM-3", False), "They want it automated.": ("RM-2", False)})
    assert parts.unanswered(fitted, StubEmbedder(), [text], [["RM-1"]]) == [[]]


def test_a_no_that_one_part_contradicts_is_a_warning_naming_the_item(small_talk_is_other):
    text = "Not sure this is the right place. They want our charts inside their own portal."
    fitted = StubMatcher({"Not sure this is the right place.": ("RM-3", False),
                          "They want our charts inside their own portal.": ("RM-2", True)})
    (found,) = parts.unanswered(fitted, StubEmbedder(), [text], [[]])
    assert found == [parts.Part("They want our charts inside their own portal.", "RM-2", "Audit log")]
    assert parts.warning(found[0], abstained=True).startswith(
        'on its own, part of the question, "They want our charts inside their own portal.", is matched to RM-2 '
        "(Audit log), but this draft says nothing on the roadmap addresses the question")


def test_one_sentence_costs_nothing_and_a_long_part_is_shortened(small_talk_is_other):
    fitted = StubMatcher({})
    assert parts.unanswered(fitted, StubEmbedder(), ["Do you support SCIM?", ""], [["RM-1"], []]) == [[], []]
    assert fitted.asked == []  # nothing embedded or matched for a request of one sentence
    long_part = parts.Part("word " * 60, None, None)
    shown = parts.warning(long_part, abstained=False)
    assert '…"' in shown and len(shown) < len(parts.UNANSWERED) + parts.PART_CHARS
