"""Multi-row inserts (new ids in the rows' order; upserts), on SQLite and PostgreSQL alike."""
from __future__ import annotations

from functools import cache

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite


async def insert_ids(s, model, rows: list[dict]) -> list[int]:
    """Insert rows with as few statements as the driver allows; their new ids, in the rows' order.

    PostgreSQL: SQLAlchemy's insertmanyvalues keeps the order (sort_by_parameter_order). SQLite
    cannot promise the order of RETURNING rows, so SQLAlchemy would send one row a statement;
    instead the ids are sorted: a rowid table gives each new row one more than the largest rowid
    so far, rows are inserted in the order given, and this transaction holds the write lock.
    """
    if s.get_bind().dialect.name == "sqlite":
        return sorted((await s.execute(insert(model).returning(model.id), rows)).scalars())
    return list((await s.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)).scalars())


def upsert(s, table, keys: tuple[str, ...], columns: tuple[str, ...] = ()):
    """INSERT of `table` rows that, where a row with the same `keys` exists (another transaction stored
    it meanwhile), sets its `columns` to this row's values, or keeps it as it is without `columns`,
    instead of failing (ON CONFLICT DO UPDATE / DO NOTHING). Built once per dialect: callers are hot."""
    return _upsert(s.get_bind().dialect.name == "sqlite", table, keys, columns)


@cache
def _upsert(on_sqlite: bool, table, keys: tuple[str, ...], columns: tuple[str, ...]):
    statement = (sqlite if on_sqlite else postgresql).insert(table)
    if not columns:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(index_elements=list(keys),
                                           set_={name: statement.excluded[name] for name in columns})
