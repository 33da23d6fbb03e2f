"""The database's key: 32 random bytes, made by the migration that created ``settings``.

It keys every digest a saved plan carries (the plan's own digest, the fingerprints of secrets and
of the stored state), so a plan file can neither be edited and re-digested by whoever holds the
file, nor have its fingerprints checked offline against a guessed token.  Only reads happen here:
``plan`` writes nothing.  The key is never printed, logged or written to a file.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from retrovue.database.tables import Setting
from retrovue.errors import DatabaseError

KEY_NAME = "database_key"


def database_key(conn: Connection) -> bytes:
    value = conn.execute(
        select(Setting.c.value).where(Setting.c.name == KEY_NAME)
    ).scalar_one_or_none()
    if not value:
        raise DatabaseError(
            f"the database has no key for saved plans (settings row '{KEY_NAME}')",
            hint="the migration that made the settings table makes the key; restore the row "
            "from a backup (saved plans made with the old key are refused either way)",
        )
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DatabaseError(
            f"the database key (settings row '{KEY_NAME}') is not hexadecimal"
        ) from None
