"""Multi-row inserts that hand back the new ids in the rows' order, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from sqlalchemy import insert


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
