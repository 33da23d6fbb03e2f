"""SLT B-4 / D-4 / B-8 through the CLI, and SI N-4 / CI Ctrl-C exits 130 (contracts §1, §7, §12)."""

from importlib.metadata import EntryPoint

import pytest

from retrovue.importers import registry as registry_module
from retrovue.importers.filesystem import FilesystemImporter
from tests.helpers import make_tree


def with_plugins(monkeypatch, *specs):
    eps = [EntryPoint(name, value, registry_module.ENTRY_POINT_GROUP) for name, value in specs]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps)


def test_broken_plugin_is_listed_unavailable_not_fatal(rv, monkeypatch):  # SLT B-4
    with_plugins(monkeypatch, ("kodi", "no_such_module:Importer"))
    result = rv("source", "list-types", "--json")
    assert result.code == 0
    entries = {e["type"]: e for e in result.json()["source_types"]}
    assert (
        entries["kodi"]["available"] is False and "ModuleNotFoundError" in entries["kodi"]["error"]
    )
    assert entries["filesystem"]["available"] is True


def test_duplicate_type_fails_the_command(rv, monkeypatch):  # SLT D-4 / §0.12
    with_plugins(monkeypatch, ("fs-copy", "retrovue.importers.filesystem:FilesystemImporter"))
    result = rv("source", "list-types")
    assert result.code == 1
    assert result.err.startswith("Error: Multiple importers claim source type 'filesystem'")
    as_json = rv("source", "list-types", "--json")
    assert as_json.code == 1 and as_json.json()["code"] == "DUPLICATE_SOURCE_TYPE"


def test_empty_registry(rv, monkeypatch):  # SLT B-8
    monkeypatch.setattr(registry_module, "builtin_importers", lambda: [])
    with_plugins(monkeypatch)
    result = rv("source", "list-types")
    assert (result.code, result.out) == (0, "No source types available\n")


class CtrlCDuringListing(FilesystemImporter):
    def fetch_assets_for_collection(self, external_id, **kwargs):
        yield from super().fetch_assets_for_collection(external_id, **kwargs)
        if external_id == "b":
            raise KeyboardInterrupt


@pytest.fixture
def interrupting(monkeypatch):
    original = registry_module.builtin_importers
    monkeypatch.setattr(
        registry_module,
        "builtin_importers",
        lambda: [
            (type_id, CtrlCDuringListing if type_id == "filesystem" else target)
            for type_id, target in original()
        ],
    )
    with_plugins(monkeypatch)


def test_source_ingest_ctrl_c_exits_130_keeping_committed_collections(
    rv, db_url, tmp_path, interrupting
):  # SI N-4
    base = make_tree(tmp_path / "m", {"a": ["1.mkv"], "b": ["2.mkv"], "c": ["3.mkv"]})
    assert (
        rv(
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "L",
            "--base-path",
            str(base),
            "--discover",
            db=db_url,
        ).code
        == 0
    )
    for name in ("a", "b", "c"):
        assert rv("collection", "update", name, "--sync-enable", db=db_url).code == 0
    result = rv("source", "ingest", "L", db=db_url)
    assert result.code == 130
    listed = {
        c["name"]: c for c in rv("collection", "list", "--json", db=db_url).json()["collections"]
    }
    assert listed["a"]["last_ingest_time"] is not None  # committed before the interrupt
    assert listed["b"]["last_ingest_time"] is None and listed["c"]["last_ingest_time"] is None


def test_collection_ingest_ctrl_c_exits_130_and_rolls_back(
    rv, db_url, tmp_path, interrupting
):  # CI, §0.4
    base = make_tree(tmp_path / "m", {"b": ["1.mkv", "2.mkv"]})
    assert (
        rv(
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "L",
            "--base-path",
            str(base),
            "--discover",
            db=db_url,
        ).code
        == 0
    )
    assert rv("collection", "update", "b", "--sync-enable", db=db_url).code == 0
    result = rv("collection", "ingest", "b", db=db_url)
    assert result.code == 130
    assert result.err.startswith("Error: ")
    assert rv("asset", "list", "--json", db=db_url).json()["total"] == 0
