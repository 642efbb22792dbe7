"""What an import did, or a dry run would do, counted for the person who ran it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hub.mis_csv import Export

ENTITIES = ("households", "pupils", "guardians", "numbers")


@dataclass
class ImportSummary:
    """What an import did, for the person who ran it."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    export: Export = field(default_factory=Export)
    pupils_not_in_file: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        """The summary as lines of text for a terminal."""
        out = []
        for entity in ENTITIES:
            text = (
                f"{entity:<11} {self.created[entity]:>6} created  {self.updated[entity]:>6} updated"
                f"  {self.unchanged[entity]:>6} unchanged"
            )
            if self.removed[entity]:
                text += f"  {self.removed[entity]:>6} removed"
            out.append(text)
        rejected = len(self.export.rejected)
        out.append(f"rows        {len(self.export.rows):>6} imported {rejected:>6} rejected")
        if self.pupils_not_in_file:
            out.append(
                f"{self.pupils_not_in_file} pupils already on the hub are not in this file "
                "and were left as they were."
            )
        if self.export.ignored_columns:
            out.append("Ignored columns: " + ", ".join(self.export.ignored_columns) + ".")
        if self.dry_run:
            out.append("Dry run: nothing was written.")
        return out
