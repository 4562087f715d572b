"""Stable theme ids across runs (lineage) and per-theme figures (measure): pure functions."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from service.themes.lineage import match_previous
from service.themes.measure import Mention, measure, parse_arr, trend_of


def _unit(*xs):
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_same_clusters_keep_their_ids():
    labels = np.array([0, 0, 1, 1, -1])
    previous = {10: 7, 11: 7, 12: 9, 13: 9}
    lin = match_previous(labels, [10, 11, 12, 13, 14], previous, {}, {})
    assert lin.cluster_to_theme == {0: 7, 1: 9}
    assert lin.retired == [] and lin.merged == {}


def test_new_statements_do_not_steal_ids_and_new_cluster_is_new():
    labels = np.array([1, 1, 1, 0, 0])  # cluster numbers may change between runs
    previous = {1: 5, 2: 5}
    lin = match_previous(labels, [1, 2, 3, 4, 5], previous, {}, {})
    assert lin.cluster_to_theme == {1: 5, 0: None}


def test_split_and_merge_are_recorded():
    # old theme 5 splits into clusters 0 (larger share) and 1
    lin = match_previous(np.array([0, 0, 0, 1, 1]), [1, 2, 3, 4, 5], {1: 5, 2: 5, 3: 5, 4: 5, 5: 5}, {}, {})
    assert lin.cluster_to_theme == {0: 5, 1: None} and lin.split_from == {1: 5}
    # old themes 5 and 6 merge into one cluster
    lin = match_previous(np.array([0, 0, 0, 0]), [1, 2, 3, 4], {1: 5, 2: 5, 3: 5, 4: 6}, {}, {})
    assert lin.cluster_to_theme == {0: 5} and lin.merged == {6: 5}


def test_disappeared_theme_is_retired():
    lin = match_previous(np.array([0, 0]), [1, 2], {1: 5, 2: 5, 3: 8}, {}, {})
    assert lin.retired == [8]


def test_centroid_fallback_when_no_statement_is_shared():
    c = {0: _unit(1, 0, 0), 1: _unit(0, 1, 0)}
    prev = {4: _unit(0.99, 0.05, 0), 5: _unit(0, 0, 1)}
    lin = match_previous(np.array([0, 1]), [100, 101], {}, c, prev)
    assert lin.cluster_to_theme == {0: 4, 1: None}


def test_lineage_is_deterministic_under_ties():
    args = (np.array([0, 1]), [1, 2], {1: 5, 2: 5}, {}, {})
    assert match_previous(*args).cluster_to_theme == match_previous(*args).cluster_to_theme == {0: 5, 1: None}


def _m(days_ago, account="A", source="call", arr=None, end=datetime(2026, 11, 25)):
    return Mention(1, "n", account, source, end - timedelta(days=days_ago), arr)


def test_measure_counts_accounts_sources_and_arr():
    end = datetime(2026, 11, 25)
    ms = [_m(1, "A", arr=100.0), _m(2, "A", arr=150.0), _m(40, "B", "interview", arr=50.0), _m(3, None)]
    fig = measure(ms, end, 30)
    assert fig["mentions"] == 4 and fig["accounts"] == 2 and fig["account_names"] == ["A", "B"]
    assert fig["sources"] == {"call": 3, "interview": 1}
    assert fig["arr"] == 150.0  # the latest ARR per account (A: 100 a day ago), summed over accounts
    assert fig["trend_counts"] == {"current": 3, "previous": 1, "window_days": 30, "window_end": "2026-11-25"}
    assert sum(fig["timeline"]) == 4 and len(fig["timeline"]) == 12


def test_trend_words():
    start = datetime(2026, 10, 26)
    assert trend_of(5, 0, datetime(2026, 11, 1), start) == "new"
    assert trend_of(6, 2, datetime(2026, 6, 1), start) == "growing"
    assert trend_of(1, 6, datetime(2026, 6, 1), start) == "fading"
    assert trend_of(4, 4, datetime(2026, 6, 1), start) == "stable"
    assert trend_of(0, 0, datetime(2026, 6, 1), start) == "fading"


def test_parse_arr_formats():
    assert parse_arr({"arr": 120000}) == 120000.0
    assert parse_arr({"arr": "$120,000"}) == 120000.0
    assert parse_arr({"arr": "85k"}) == 85000.0
    assert parse_arr({"arr": "n/a"}) is None and parse_arr({}) is None


def test_window_text_names_the_last_day_inclusive_and_the_span_before():
    from datetime import date

    from service.themes.measure import window_text

    assert window_text(date(2026, 11, 25), 30) == "the last 30 days to 2026-11-25 vs the 30 before"
    assert window_text(datetime(2026, 11, 25, 13), 1.0) == "the last day to 2026-11-25 vs the day before"
    # A window to the end of its last day is a microsecond short of whole days: 183, not "183.0"
    assert window_text(date(2026, 11, 30), 182.9999999) == "the last 183 days to 2026-11-30 vs the 183 before"


def test_until_a_plain_day_holds_the_whole_day():
    from service.notes import parse_filter_date

    assert parse_filter_date("2026-11-30", "--until", end_of_day=True) == datetime(2026, 11, 30, 23, 59, 59, 999999)
    assert parse_filter_date("2026-11-30T10:00", "--until", end_of_day=True) == datetime(2026, 11, 30, 10)
    assert parse_filter_date("2026-11-30", "--since") == datetime(2026, 11, 30)
