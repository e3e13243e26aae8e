"""The catalog: what the current index holds (papers, venues, source labels, years), a lookup by
paper id, filter validation and matching, and the index's build information. It is the public way
to browse an index (the UI's papers table, filter choices, map and index panel use it); get one
with :meth:`rag.pipeline.Pipeline.catalog`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .filters import Filters
from .models import Paper


@dataclass(frozen=True)
class Catalog:
    """The papers of one index, read-only. ``filters(...)`` validates filters as retrieval does
    (raising :class:`~rag.errors.FilterError` with a one-line message); ``info()`` reads the index's
    build information (papers, chunks, embedding model, last build) from the store."""

    papers: tuple[Paper, ...]
    venues: frozenset[str]
    sources: frozenset[str]  # source labels
    by_id: Mapping[str, Paper]
    _parse_filters: Callable[..., Filters] = field(repr=False)
    _info: Callable[[], dict] = field(repr=False)

    def paper(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def years(self) -> list[int]:
        return sorted({p.year for p in self.papers if p.year})

    def filters(self, **filters) -> Filters:
        """Filters (venue, year, type, author, source, topic) validated against this index."""
        return self._parse_filters(**filters)

    def matching(self, **filters) -> list[Paper]:
        """The papers the filters admit, in index order."""
        f = self.filters(**filters)
        return [p for p in self.papers if f.match(p)]

    def info(self) -> dict:
        """The index's build information, as ``rag stats --index`` shows it."""
        return self._info()
