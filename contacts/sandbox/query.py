"""How a list call's search, label filter, sort and page become SQL, as Chatwoot reads them."""

from collections.abc import Iterable

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
SORT_COLUMNS = {
    "email": "email",
    "name": "name COLLATE NOCASE",
    "phone_number": "phone_number",
    "last_activity_at": "last_activity_at",
    "created_at": "created_at",
    "company": "company COLLATE NOCASE",
    "city": "city COLLATE NOCASE",
    "country": "country COLLATE NOCASE",
}
DEFAULT_SORT = ("last_activity_at", "desc")


def where_clause(q: str | None, labels: Iterable[str]) -> tuple[str, list]:
    """The WHERE clause (or "") and its parameters: q in any searched field, any of labels."""
    where, params = [], []
    if q and q.strip():
        where.append("instr(search_text, ?) > 0")
        params.append(q.strip().lower())
    labels = sorted(set(labels))
    if labels:
        marks = ", ".join("?" * len(labels))
        where.append(f"id IN (SELECT contact_id FROM contact_labels WHERE label IN ({marks}))")
        params.extend(labels)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def order_clause(sort: str | None, direction: str | None) -> str:
    """The ORDER BY terms; "-field" sorts descending, an unknown field sorts by activity."""
    if sort and sort.startswith("-") and direction is None:
        sort, direction = sort[1:], "desc"
    if sort not in SORT_COLUMNS:
        sort, direction = DEFAULT_SORT if direction is None else (DEFAULT_SORT[0], direction)
    direction = "DESC" if (direction or "asc").lower() == "desc" else "ASC"
    column = SORT_COLUMNS[sort]
    bare = column.split()[0]
    # NULLS LAST in both directions, as Chatwoot orders; id keeps pages stable.
    return f"{bare} IS NULL, {column} {direction}, id {direction}"


def limit_offset(page: int, page_size: int) -> tuple[int, int]:
    """LIMIT and OFFSET for a page, counted from 1, of at most MAX_PAGE_SIZE contacts."""
    page = max(page, 1)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    return page_size, (page - 1) * page_size
