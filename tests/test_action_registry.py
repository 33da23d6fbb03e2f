"""Issue 18: an action kind is its dataclass, its handler and its renderers, each registered per
class; nothing else changes.  A throwaway kind is encoded, decoded, shown in the schema, rendered
as text and markdown, counted and executed without touching any other module; and no more than
four modules outside model/ test an action's class."""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from retrovue.database.tables import Collection
from retrovue.execute import source_changes
from retrovue.execute.executor import Executor
from retrovue.importers.registry import load_registry
from retrovue.model import actions as model_actions
from retrovue.model.actions import (
    CollectionAddress,
    Plan,
    SourceAddress,
    action_kind,
    unregister_action_kind,
)
from retrovue.model.codec import decode_action, decode_plan, encode_action, encode_plan
from retrovue.model.plan_schema import plan_schema
from retrovue.plan import summary
from retrovue.render import text
from retrovue.render.markdown import render_markdown
from tests.helpers import fs_config, make_tree

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"


@dataclass(frozen=True)
class Relabel:
    """Give a collection a label of the operator's choosing (a kind only this test knows)."""

    collection: CollectionAddress
    label: str


def _relabel(conn, action: Relabel, source_id, _now):
    conn.execute(
        update(Collection).where(Collection.c.id == action.collection.id).values(name=action.label)
    )
    return source_id


@pytest.fixture
def relabel_kind():
    """Register the kind the way a new module would, and forget it afterwards."""
    action_kind("test_relabel")(Relabel)
    source_changes.register_handler(Relabel, _relabel)

    @text.detail.register
    def _(a: Relabel, view) -> list[str]:
        return [f"~ label: {text.value(a.label)}"]

    @summary.tally.register
    def _(a: Relabel, into) -> None:
        into.changed(a.collection)

    yield
    unregister_action_kind(Relabel)
    del source_changes.HANDLERS[Relabel]


def _stored_collection(rv, db_url, tmp_path) -> CollectionAddress:
    base = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"]})
    config = fs_config(tmp_path / "r.yaml", base, {"movies": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    from retrovue.database.engine import DatabaseTarget, open_database

    engine = open_database(DatabaseTarget(db_url, False))
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Collection.c.id, Collection.c.source_id)).one()
    finally:
        engine.dispose()
    return CollectionAddress(SourceAddress("Library", row.source_id), "movies", "movies", row.id)


def test_a_new_kind_is_encoded_decoded_and_in_the_schema(relabel_kind):
    movies = CollectionAddress(SourceAddress("Library"), "movies", "movies")
    action = Relabel(movies, "Films")
    encoded = json.loads(json.dumps(encode_action(action)))
    assert encoded["kind"] == "test_relabel" and encoded["label"] == "Films"
    assert decode_action(encoded) == action
    assert decode_plan(encode_plan(Plan((action,)))).actions == (action,)
    schema = plan_schema()["$defs"]["action"]
    assert "test_relabel" in schema["properties"]["kind"]["enum"]
    rule = next(
        r for r in schema["allOf"] if r["if"]["properties"]["kind"]["const"] == "test_relabel"
    )
    assert rule["then"]["required"] == ["collection", "label"]


def test_a_new_kind_is_rendered_and_counted(relabel_kind):
    movies = CollectionAddress(SourceAddress("Library"), "movies", "movies")
    plan = Plan((Relabel(movies, "Films"),))
    shown = text.render_text(plan)
    assert '      ~ collection "movies"' in shown and '          ~ label: "Films"' in shown
    assert "1 to change" in shown  # the summary line counts it
    assert '~         label: "Films"' in render_markdown(plan)  # the marker moved to column 0
    assert summary.summarize(plan).collections_change == 1


def test_a_new_kind_is_executed_by_the_one_executor(relabel_kind, rv, db_url, engine, tmp_path):
    movies = _stored_collection(rv, db_url, tmp_path)
    result = Executor(engine, load_registry()).execute(Plan((Relabel(movies, "Films"),)))
    assert [s.ok for s in result.sources] == [True]
    with engine.connect() as conn:
        assert conn.execute(select(Collection.c.name)).scalar_one() == "Films"


def test_the_throwaway_kind_is_gone_afterwards():
    assert Relabel not in model_actions.KINDS
    assert Relabel not in source_changes.HANDLERS


# --- how many modules still test an action's class ---------------------------------------------


def _action_classes() -> set[str]:
    return {
        name
        for name, value in vars(model_actions).items()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == model_actions.__name__
    }


def _names(node: ast.AST, known: set[str]) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id} & known
    if isinstance(node, ast.Attribute):
        return {node.attr} & known
    if isinstance(node, ast.Tuple):
        return set().union(*(_names(e, known) for e in node.elts))
    if isinstance(node, ast.BinOp):
        return _names(node.left, known) | _names(node.right, known)
    return set()


def _tests_an_action_class(tree: ast.AST, known: set[str]) -> bool:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
            and _names(node.args[1], known)
        ):
            return True
        if isinstance(node, ast.MatchClass) and _names(node.cls, known):
            return True
        if (  # type(a) is X / type(a) == X
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and isinstance(node.left.func, ast.Name)
            and node.left.func.id == "type"
            and any(_names(c, known) for c in node.comparators)
        ):
            return True
    return False


def test_at_most_four_modules_outside_model_test_an_action_class():
    known = _action_classes()
    offenders = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] != "model"
        and _tests_an_action_class(ast.parse(path.read_text(encoding="utf-8")), known)
    )
    assert len(offenders) <= 4, offenders
