from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """One rejected row: where it is and why, in words a user can act on."""

    source: str  # file name, "stdin" or "request"
    line: int | None  # 1-based line (or row/item number for API lists)
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line is not None else "")
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.reason}"

    def as_dict(self) -> dict:
        return {"source": self.source, "line": self.line, "field": self.field, "reason": self.reason}


class IngestError(Exception):
    """Input rejected as a whole: nothing from it was stored."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""))
