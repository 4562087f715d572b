"""The public dev-set loaders: the protocol of eval/bench_match.py, on tiny files made here."""
from __future__ import annotations

from eval import devsets


def test_hint3_protocol_items_requests_pool_and_links(tmp_path):
    folder = tmp_path / "hint3"
    folder.mkdir()
    (folder / "shop_train.csv").write_text("sentence,label\nWhere is my order,ORDER_STATUS\n"
                                           "Track my parcel,ORDER_STATUS\nCancel it,CANCEL_ORDER\n")
    (folder / "shop_test.csv").write_text("sentence,label\nwhere is my parcel,ORDER_STATUS\n"
                                          "hello there,NO_NODES_DETECTED\nCancel it,CANCEL_ORDER\n")
    ds = devsets.hint3("shop", folder)
    assert [i["title"] for i in ds.items] == ["Cancel order", "Order status"]
    assert ds.gold.tolist() == [1, -1, 0]
    assert ds.pool == ["Where is my order", "Track my parcel"]  # a request is never its own background
    linked = ds.with_links(1)
    assert all(len(i["evidence"]) == 1 and i["evidence"][0] in ds.examples[i["id"]] for i in linked)
    assert devsets.hint3("missing", folder) is None


def test_hwu64_holds_out_ten_intents_and_skips_without_data(tmp_path):
    folder = tmp_path / "hwu64"
    folder.mkdir()
    intents = [f"intent_{n}" for n in range(14)]
    (folder / "hwu64_fold1.csv").write_text("text,intent\n" + "".join(f"ask {i},{i}\n" for i in intents))
    (folder / "hwu64_all.csv").write_text("text,intent\n" + "".join(f"ask {i},{i}\nmore {i},{i}\n" for i in intents))
    ds = devsets.hwu64(folder=folder)
    assert len(ds.items) == 4 and (ds.gold == -1).sum() == 10
    assert ds.pool == [f"more {i}" for i in intents]
    assert devsets.hwu64(folder=tmp_path / "nowhere") is None


def test_supervised_reference_rows_read_every_labelled_example(tmp_path, monkeypatch):
    import numpy as np

    from eval import bench_match

    class Letters:  # a deterministic embedder: one axis per first letter
        name = "letters"

        def embed(self, texts):
            out = np.zeros((len(texts), 26), np.float32)
            for row, text in enumerate(texts):
                out[row, ord(text[0].lower()) - 97] = 1.0
            return out

    monkeypatch.setattr(bench_match, "OUT", tmp_path)
    ds = devsets.DevSet(name="tiny", items=[{"id": "a", "title": "Alpha"}, {"id": "b", "title": "Beta"}],
                        requests=["apple", "banana", "zebra"], gold=np.array([0, 1, -1]), pool=[],
                        examples={"a": ["avocado", "apricot"], "b": ["berry", "bean"]})
    rows = bench_match.supervised_reference(ds, Letters().embed(ds.requests), Letters())
    centroid = rows["supervised_centroid_all"]
    assert centroid["top1"] == 1.0 and centroid["auroc"] == 1.0  # "zebra" is near no item's examples
    assert rows["supervised_logreg_all"]["top1"] == 1.0
    assert bench_match.supervised_reference(
        devsets.DevSet(name="one", items=ds.items, requests=ds.requests, gold=ds.gold, pool=[],
                       examples={"a": ["avocado"]}), Letters().embed(ds.requests), Letters()) == {}
