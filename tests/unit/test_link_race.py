"""Requests racing to store the same thing take turns (write locks): one roadmap link, one "told" mark, one of two
opposite theme merges.
Before, both checked, both wrote: a second link broke the unique constraint (an API 500, a page 500), and five clicks
on "told" stored five sent drafts and five audit entries, each answering "created"."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from service.models import Note, RoadmapLink
from service.roadmap.service import link

from .test_followups import seed


def test_concurrent_identical_links_store_one_row_and_raise_nothing(svc):
    seed(svc)
    with svc.db.session() as s:
        note_ids = [n.public_id for n in s.scalars(select(Note).order_by(Note.id)).all()][:3]
    outcomes: list = []

    def one(note_id: str) -> None:
        try:
            outcomes.append(link(svc, "RM-104", note_id=note_id, created_by="race")["created"])
        except Exception as exc:  # noqa: BLE001 - the failure being tested for
            outcomes.append(exc)

    for note_id in note_ids:
        threads = [threading.Thread(target=one, args=(note_id,)) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [o for o in outcomes if not isinstance(o, bool)] == []
    assert outcomes.count(True) == len(note_ids)
    with svc.db.session() as s:
        assert s.scalar(select(func.count(RoadmapLink.id))) == len(note_ids)


def test_concurrent_identical_told_marks_store_one_mark_and_one_draft(svc):
    from service.followups.service import mark_told
    from service.models import Draft, FollowupTold

    from .test_followups import ship

    seed(svc)
    ship(svc)
    outcomes: list = []

    def one() -> None:
        try:
            outcomes.append(mark_told(svc, "RM-104", "Velo Commerce", told_by="race")["created"])
        except Exception as exc:  # noqa: BLE001 - the failure being tested for
            outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o for o in outcomes if not isinstance(o, bool)] == [] and outcomes.count(True) == 1
    with svc.db.session() as s:
        assert s.scalar(select(func.count(FollowupTold.id))) == 1
        assert s.scalar(select(func.count(Draft.id))) == 1


def test_concurrent_opposite_merges_store_one_and_refuse_the_other(svc):
    """7 into 27 and 27 into 7 at once: the second edit waits for the first (the "themes" lock) and is refused."""
    from service.ingest.store import ingest_notes
    from service.models import Theme, ThemeEdit
    from service.themes.edits import ThemeEditError, edit_and_rerun
    from service.themes.run import RunOptions, run_themes

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    first = run_themes(svc, RunOptions(include_all=True, use_llm=False))
    a, b = first["themes"][0]["id"], first["themes"][1]["id"]
    start, outcomes = threading.Barrier(2), []

    def merge(theme_id: int, target_id: int) -> None:
        start.wait()
        try:
            outcomes.append(edit_and_rerun(svc, "merge", "pm", theme_id=theme_id, target_id=target_id)["edit"]["id"])
        except ThemeEditError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, ThemeEditError) for o in outcomes) == 1, outcomes
    with svc.db.session() as s:
        assert s.scalar(select(func.count(ThemeEdit.id))) == 1
        pointing = {t.id: t.merged_into_id for t in s.scalars(select(Theme).where(Theme.id.in_((a, b))))}
    assert not (pointing[a] == b and pointing[b] == a)
