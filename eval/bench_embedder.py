"""Embedder benchmark: torch (sentence-transformers) against the ONNX embedder, speed and quality side by side.

    python -m eval.bench_embedder [--sentences 2000] [--variants int8,fp32] [--no-quality] [--json]

Speed: sentences per second on the same texts (hwu64_all utterances when the dataset is there, else the
synthetic statements of bench_ingest), wall clock and CPU time (on a shared machine CPU time is the steadier one),
best of two runs after a warm-up. Cold start: a fresh interpreter loading each embedder and embedding one text.
Quality guard (issue 16): mean cosine to the torch vectors >= 0.99; theme NMI (hwu64 fold1, the service's own
clustering) and match AUROC (hwu64 fold1, bench_match's seed-0 protocol, batch mode) within 0.01 of torch.
hwu64 is a dev set: nothing in the ONNX embedder was tuned on these figures except the one layer kept in fp32,
chosen on the first 1,000 utterances of hwu64_all (see service/onnx_embedder.py).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"
GUARD = {"cosine_min": 0.99, "nmi_delta": 0.01, "auroc_delta": 0.01}


def texts_for_speed(n: int) -> tuple[list[str], str]:
    from .bench_themes import read_csv
    from .devsets import datasets_dir

    path = datasets_dir() / "hwu64" / "hwu64_all.csv"
    if path.is_file():
        return read_csv(path)[0][:n], "hwu64_all"
    from .bench_ingest import make_notes

    return [note["text"] for note in make_notes(n)], "bench_ingest synthetic notes"


def speed(embedder, texts: list[str]) -> dict:
    embedder.embed(texts[:64])
    best_wall = best_cpu = float("inf")
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = embedder.embed(texts)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return {"sentences_per_s": round(len(texts) / best_wall, 1), "sentences_per_cpu_s": round(len(texts) / best_cpu, 1),
            "vectors": vectors}


def cold_start(kind: str) -> float:
    """Seconds for a new process to import, load the embedder and embed one text (the export is cached)."""
    code = ("import time; t = time.perf_counter(); from service.embedding import get_embedder; "
            f"get_embedder(kind={kind!r}).embed(['cold start']); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 2)


def theme_nmi(embedder, noise_seeds: int = 0) -> tuple[float | None, list[float]]:
    """NMI of the service's clustering on hwu64 fold1; with noise_seeds, also the NMI of the same vectors plus
    N(0, 2e-7) noise per seed: the clustering's own noise floor, which an embedder difference must be read against."""
    from .bench_themes import read_csv, scores
    from .devsets import datasets_dir

    path = datasets_dir() / "hwu64" / "hwu64_fold1.csv"
    if not path.is_file():
        return None, []
    from service.themes.cluster import cluster

    texts, truth = read_csv(path)
    vectors = embedder.embed(texts)
    floor = []
    for seed in range(noise_seeds):
        noisy = vectors + np.random.default_rng(seed).normal(0, 2e-7, vectors.shape).astype(np.float32)
        floor.append(scores(truth, cluster(noisy / np.linalg.norm(noisy, axis=1, keepdims=True)))["nmi"])
    return scores(truth, cluster(vectors))["nmi"], floor


def match_auroc(embedder) -> float | None:
    """bench_match's `matcher_no_pool` row on hwu64 fold1 (title-only items, 10 intents held out with seed 0)."""
    from .bench_match import run_matcher
    from .devsets import hwu64

    ds = hwu64(seed=0)
    if ds is None:
        return None
    return run_matcher(ds.items, ds, embedder.embed(ds.requests), embedder)["auroc"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--variants", default="int8,fp32", help="ONNX variants to compare with torch")
    parser.add_argument("--no-quality", action="store_true", help="skip theme NMI and match AUROC")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocesses")
    parser.add_argument("--noise-seeds", type=int, default=3, help="torch NMI re-measured with float-level noise")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from service.embedding import get_embedder
    from service.onnx_embedder import choose_variant, cpu_has_vnni

    texts, source = texts_for_speed(args.sentences)
    kinds = ["torch"] + [f"onnx-{v.strip()}" for v in args.variants.split(",") if v.strip()]
    result: dict = {"sentences": len(texts), "texts": source, "cpu_has_vnni": cpu_has_vnni(),
                    "int8_variant_here": choose_variant("int8"), "guard": GUARD, "embedders": {}}
    reference = None
    for kind in kinds:
        embedder = get_embedder(kind=kind)
        row = speed(embedder, texts)
        vectors = row.pop("vectors")
        if reference is None:
            reference = vectors
        row["name"] = embedder.name
        row["mean_cosine_to_torch"] = round(float((vectors * reference).sum(1).mean()), 4)
        row["min_cosine_to_torch"] = round(float((vectors * reference).sum(1).min()), 4)
        if not args.no_quality:
            row["theme_nmi_hwu64_fold1"], floor = theme_nmi(embedder, args.noise_seeds if kind == "torch" else 0)
            if floor:
                result["torch_nmi_with_2e-7_noise"] = floor
            row["match_auroc_hwu64_fold1"] = match_auroc(embedder)
        if not args.no_cold:
            row["cold_start_s"] = cold_start(kind)
        result["embedders"][kind] = row
    if not args.no_quality and all(row.get("theme_nmi_hwu64_fold1") is None for row in result["embedders"].values()):
        from .devsets import datasets_dir

        result["quality_skipped"] = (f"no hwu64/hwu64_fold1.csv under {datasets_dir()} (set FEEDBACK_DATASETS to the "
                                     "datasets folder)")
    torch_row = result["embedders"]["torch"]
    for kind, row in result["embedders"].items():
        if kind == "torch":
            continue
        row["speedup_wall"] = round(row["sentences_per_s"] / torch_row["sentences_per_s"], 2)
        row["speedup_cpu"] = round(row["sentences_per_cpu_s"] / torch_row["sentences_per_cpu_s"], 2)
        row["guard_ok"] = _guard(row, torch_row)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_embedder.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return result


def _guard(row: dict, torch_row: dict) -> bool:
    ok = row["mean_cosine_to_torch"] >= GUARD["cosine_min"]
    for key, delta in (("theme_nmi_hwu64_fold1", GUARD["nmi_delta"]), ("match_auroc_hwu64_fold1", GUARD["auroc_delta"])):
        if row.get(key) is not None and torch_row.get(key) is not None:
            ok = ok and row[key] >= torch_row[key] - delta
    return ok


def _print(result: dict) -> None:
    print(f"embedder benchmark: {result['sentences']} sentences ({result['texts']}); CPU VNNI: "
          f"{result['cpu_has_vnni']} (onnx-int8 runs {result['int8_variant_here']} here); the default is onnx (fp32)")
    print(f"  {'embedder':12} {'sent/s':>8} {'sent/cpu-s':>10} {'x torch':>8} {'cos mean':>9} {'cos min':>8} "
          f"{'NMI':>6} {'AUROC':>6} {'cold s':>7}  guard")
    for kind, row in result["embedders"].items():
        nmi, auroc = row.get("theme_nmi_hwu64_fold1"), row.get("match_auroc_hwu64_fold1")
        print(f"  {kind:12} {row['sentences_per_s']:8.1f} {row['sentences_per_cpu_s']:10.1f} "
              f"{row.get('speedup_wall', 1.0):8.2f} {row['mean_cosine_to_torch']:9.4f} {row['min_cosine_to_torch']:8.4f} "
              f"{nmi if nmi is not None else '-':>6} {auroc if auroc is not None else '-':>6} "
              f"{row.get('cold_start_s', '-'):>7}  {'' if kind == 'torch' else ('ok' if row['guard_ok'] else 'MISSED')}")
    if result.get("quality_skipped"):
        print(f"  NMI and AUROC skipped: {result['quality_skipped']}")
    if result.get("torch_nmi_with_2e-7_noise"):
        floor = result["torch_nmi_with_2e-7_noise"]
        print(f"  noise floor: torch vectors + N(0, 2e-7) give NMI {', '.join(f'{x:.4f}' for x in floor)} "
              f"(spread {max(floor) - min(floor):.4f}): NMI differences below that are the clustering, not the embedder")
    print(f"  guard: mean cosine >= {GUARD['cosine_min']}, NMI and AUROC within {GUARD['nmi_delta']} of torch; "
          f"written to {OUT / 'bench_embedder.json'}")


if __name__ == "__main__":
    main()
