"""The importer registry: built-ins, entry-point plugins, duplicates, availability (DESIGN §9)."""

from importlib.metadata import EntryPoint

import pytest

from retrovue.errors import DuplicateSourceTypeError, ImporterUnavailableError
from retrovue.importers import registry as registry_module
from retrovue.importers.base import BaseImporter
from retrovue.importers.filesystem import FilesystemImporter


class HalfImporter(BaseImporter):  # not compliant: misses most of the contract
    type_id = "half"
    display_name = "Half"


def plugin_entry_points(monkeypatch, *specs):
    eps = [EntryPoint(name, value, registry_module.ENTRY_POINT_GROUP) for name, value in specs]
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        lambda group: eps if group == registry_module.ENTRY_POINT_GROUP else [],
    )


def test_builtins():
    reg = registry_module.load_registry(include_plugins=False)
    assert reg.types() == ["emby", "filesystem", "jellyfin", "plex"]
    assert all(entry.compliant for entry in reg.importers.values())


def test_builtins_are_imported_only_when_their_type_is_used():
    """Issue 12: registering the built-ins imports none of them (a filesystem-only command
    never loads plexapi); each is registered under its class's own type_id."""
    import subprocess
    import sys

    code = (
        "import sys; from retrovue.importers.registry import load_registry; "
        "r = load_registry(include_plugins=False); assert r.types() == ['emby', 'filesystem', 'jellyfin', 'plex']; "
        "before = 'retrovue.importers.plex' in sys.modules; r.get('filesystem'); "
        "print(before, 'retrovue.importers.plex' in sys.modules, 'plexapi' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
    reg = registry_module.load_registry(include_plugins=False)
    for type_id, entry in reg.importers.items():
        assert entry.provider == "built-in" and entry.cls.type_id == type_id


def test_plugin_is_loaded_from_the_entry_point_group(monkeypatch):
    plugin_entry_points(monkeypatch, ("half", "tests.test_registry:HalfImporter"))
    reg = registry_module.load_registry()
    assert "half" in reg.types()
    assert not reg.available("half")  # registered but not compliant
    with pytest.raises(ImporterUnavailableError, match="Source type 'half' is not available"):
        reg.require_available("half", "My Source")


def test_duplicate_type_id_fails_loudly_naming_both(monkeypatch):
    plugin_entry_points(monkeypatch, ("fs2", "retrovue.importers.filesystem:FilesystemImporter"))
    with pytest.raises(DuplicateSourceTypeError) as info:
        registry_module.load_registry()
    assert "Multiple importers claim source type 'filesystem'" in info.value.message
    assert (
        "built-in" in info.value.hint
        and "fs2 = retrovue.importers.filesystem:FilesystemImporter" in info.value.hint
    )


def test_broken_plugin_is_reported_not_fatal(monkeypatch):
    plugin_entry_points(monkeypatch, ("broken", "no.such.module:Thing"))
    reg = registry_module.load_registry()
    assert "broken" in reg.broken and "ModuleNotFoundError" in reg.broken["broken"]
    assert reg.get("filesystem") is FilesystemImporter


def test_unknown_stored_type_is_unavailable():
    reg = registry_module.load_registry(include_plugins=False)
    assert not reg.available("kodi")
    with pytest.raises(ImporterUnavailableError):
        reg.require_available("kodi", "Old Source")
