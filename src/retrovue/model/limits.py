"""The lengths the database columns declare, enforced before anything is written.

PostgreSQL refuses a value longer than its ``varchar(n)`` while SQLite stores it, so without these
checks the same upstream would be ingested on one backend and fail on the other.  An upstream
collection that cannot be stored is skipped with the reason; an item is counted as unusable; a
declared value is a config error (the JSON Schema carries the same numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: ``sources`` and ``collections``: ``name`` and ``external_id``
NAME_MAX = 255
#: ``path_mappings``: the upstream path (``plex_path`` column) and ``local_path``
PATH_MAX = 1024
#: ``assets.change_token``
TOKEN_MAX = 255


def collection_problem(external_id: str, name: str) -> str | None:
    """Why a collection offered upstream cannot be stored (None: it can)."""
    if len(name) > NAME_MAX:
        return f"name is {len(name):,} characters long, more than the {NAME_MAX} stored"
    if len(external_id) > NAME_MAX:
        return f"id is {len(external_id):,} characters long, more than the {NAME_MAX} stored"
    return None


def fitted_name(name: str) -> str:
    """``name`` when the column holds it, else its start ended by a marker: an ellipsis and a
    digest of the whole name, so two long names that share their start stay two names.  An
    upstream's collection is stored so rather than dropped (the caller keeps the full name)."""
    if len(name) <= NAME_MAX:
        return name
    marker = f"… [{hashlib.sha256(name.encode()).hexdigest()[:8]}]"
    return name[: NAME_MAX - len(marker)].rstrip() + marker


def locations_problem(locations: Iterable[str]) -> str | None:
    """Why upstream locations cannot become path mappings (None: they can)."""
    longest = max(locations, key=len, default="")
    if len(longest) > PATH_MAX:
        return f"location is {len(longest):,} characters long, more than the {PATH_MAX} stored"
    return None


def token_problem(change_token: str) -> str | None:
    """Why an item's change token cannot be stored (None: it can)."""
    if len(change_token) > TOKEN_MAX:
        return f"change token longer than {TOKEN_MAX} characters"
    return None
