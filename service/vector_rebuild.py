"""Build a fresh embedded Chroma folder from exported vectors, in a process of its own.

The erasure runs this as a child process on purpose: the index files Chroma writes can carry leftover bytes of
the writing process's memory, and a fresh process has never held the erased text. It also leaves every HNSW
index complete on disk: Chroma otherwise keeps the last changes (up to 1,000) only in its log, and the first
process to read the folder afterwards (the erasing one among them) would rebuild the index and write the files
with bytes of its own memory. Usage:
`python -m service.vector_rebuild EXPORT_DIR NEW_FOLDER PREFIX [EMBEDDER]` where EXPORT_DIR holds NAME.npy
(vectors) and NAME.json ({"ids": [...], "metadatas": [...]}) per collection; EMBEDDER is recorded on each
collection, as the service records which embedder made its vectors.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def build(export_dir: Path, folder: Path, prefix: str, embedder_name: str | None = None) -> int:
    from .vectorstore import ChromaStore

    store = ChromaStore.embedded(str(folder), prefix, embedder_name=embedder_name)
    total = 0
    for meta_path in sorted(export_dir.glob("*.json")):
        name = meta_path.stem
        data = json.loads(meta_path.read_text(encoding="utf-8"))
        vectors = np.load(export_dir / f"{name}.npy")
        with store.persisting_each_write(name):  # the collection exists even when empty
            store.add(name, data["ids"], vectors, data["metadatas"])
        total += len(data["ids"])
    store.close()
    return total


if __name__ == "__main__":
    export, target, prefix = sys.argv[1:4]
    print(build(Path(export), Path(target), prefix, sys.argv[4] if len(sys.argv) > 4 else None))
