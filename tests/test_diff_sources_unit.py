"""The pure source diff (``retrovue.diff.sources.diff_source``) on hand-built snapshots.

No database, no network: the declared source, its stored row and the upstream listing are built
by hand, and ``check_ingestible`` is a stub.  Each test asserts one rule with the exact actions.
"""

from __future__ import annotations

import re
import uuid

from retrovue.config.model import CollectionDecl, SourceDecl
from retrovue.diff.sources import diff_source
from retrovue.model.actions import (
    AddCollection,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    FieldChange,
    Problem,
    RenameCollection,
    SetCollectionSync,
    SetIngestible,
    SetPathMappings,
    SourceAddress,
    UpdateSource,
)
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.upstream import PathMappingSpec, UpstreamCollection

SOURCE_ID = uuid.UUID(int=1)
FS_CONFIG = {"base_path": "/media"}
PLEX_CONFIG = {"base_url": "http://plex:32400", "token": "t0k3n"}


# ----- builders --------------------------------------------------------------------------------


def fs_decl(*collections: CollectionDecl, config=None, name="Library", external_id=None):
    return SourceDecl(
        name, "filesystem", external_id, dict(config or FS_CONFIG), tuple(collections)
    )


def plex_decl(*collections: CollectionDecl, config=None, name="Plex"):
    return SourceDecl(
        name, "plex", None, dict(config or PLEX_CONFIG), tuple(collections), frozenset({"token"})
    )


def coll(name=None, external_id=None, sync=None, path_mappings=None) -> CollectionDecl:
    return CollectionDecl(name, external_id, sync, path_mappings)


def coll_id(external_id: str) -> uuid.UUID:
    return uuid.uuid5(SOURCE_ID, external_id)


def db_coll(
    external_id, name=None, sync=False, ingestible=True, locations=(), mappings=()
) -> DbCollection:
    return DbCollection(
        coll_id(external_id),
        SOURCE_ID,
        external_id,
        name or external_id,
        sync,
        ingestible,
        None,
        tuple(locations),
        tuple(mappings),
    )


def stored_fs(*collections: DbCollection, config=None, name="Library") -> DbSource:
    return DbSource(
        SOURCE_ID,
        "filesystem-00000001",
        name,
        "filesystem",
        dict(config or FS_CONFIG),
        "config",
        tuple(collections),
    )


def stored_plex(*collections: DbCollection, config=None, name="Plex") -> DbSource:
    return DbSource(
        SOURCE_ID,
        "plex-00000001",
        name,
        "plex",
        dict(config or PLEX_CONFIG),
        "config",
        tuple(collections),
    )


def folder(name: str) -> UpstreamCollection:
    """A filesystem collection: external_id and name are the directory name."""
    return UpstreamCollection(name, name, (f"/media/{name}",), "folder")


def section(key: str, name: str, *locations: str) -> UpstreamCollection:
    return UpstreamCollection(key, name, tuple(locations), "movie")


def always(ok: bool = True, reason: str | None = None):
    return lambda _upstream, _mappings: (ok, reason)


def mapped(upstream: UpstreamCollection, mappings):
    """Plex-like check: every location needs a mapping with a local_path for exactly it."""
    covered = {m.upstream_path for m in mappings if m.local_path}
    missing = [loc for loc in upstream.locations if loc not in covered]
    return (False, f"unmapped: {', '.join(missing)}") if missing else (True, None)


def M(upstream_path, local_path=None) -> PathMappingSpec:
    return PathMappingSpec(upstream_path, local_path)


STORED = SourceAddress("Library", SOURCE_ID)
STORED_PLEX = SourceAddress("Plex", SOURCE_ID)


def at(source: SourceAddress, external_id: str, name: str | None = None, stored=True):
    return CollectionAddress(
        source, external_id, name or external_id, coll_id(external_id) if stored else None
    )


# ----- a new source ------------------------------------------------------------------------------


def test_new_source_is_created_with_every_upstream_collection_discovered_disabled():
    """SCG G-1 / SD D-2: discovery comes with creation; new collections start with sync off."""
    decl = fs_decl(external_id="filesystem-cafe0001")
    actions, states, problems = diff_source(
        decl, None, [folder("Movies"), folder("TV")], always(True), False
    )
    new = SourceAddress("Library")
    movies, tv = at(new, "Movies", stored=False), at(new, "TV", stored=False)
    assert actions == [
        CreateSource(new, "filesystem", "filesystem-cafe0001", {}),
        AddCollection(movies, ("/media/Movies",), ()),
        SetIngestible(movies, False, True, None),
        AddCollection(tv, ("/media/TV",), ()),
        SetIngestible(tv, False, True, None),
    ]
    assert actions[0].config == FS_CONFIG  # config is compare=False on CreateSource
    assert [(s.address.external_id, s.sync_enabled, s.ingestible, s.stored) for s in states] == [
        ("Movies", False, True, False),
        ("TV", False, True, False),
    ]
    assert problems == []


def test_new_source_without_external_id_gets_a_generated_one():
    actions, _, _ = diff_source(fs_decl(), None, [], always(True), False)
    assert len(actions) == 1 and isinstance(actions[0], CreateSource)
    assert re.fullmatch(r"filesystem-[0-9a-f]{8}", actions[0].external_id)


def test_new_source_carries_its_sensitive_keys():
    actions, _, _ = diff_source(plex_decl(), None, [], always(True), True)
    assert actions == [
        CreateSource(
            SourceAddress("Plex"), "plex", actions[0].external_id, {}, frozenset({"token"})
        )
    ]


def test_new_collection_declared_sync_true_is_enabled_in_the_same_plan():
    actions, states, _ = diff_source(
        fs_decl(coll("Movies", sync=True)),
        None,
        [folder("Movies"), folder("TV")],
        always(True),
        False,
    )
    movies = at(SourceAddress("Library"), "Movies", stored=False)
    assert [a for a in actions if isinstance(a, SetCollectionSync)] == [
        SetCollectionSync(movies, False, True)
    ]
    assert [(s.address.name, s.sync_enabled) for s in states] == [("Movies", True), ("TV", False)]


def test_new_plex_collection_gets_a_null_mapping_row_per_location_and_its_reason():
    """SCG G-6 / SD D-2: one plex_path row per location with local_path NULL; not ingestible yet,
    and the plan says why."""
    up = section("1", "Movies", "/data/Movies", "/data/More Movies")
    actions, states, _ = diff_source(plex_decl(), None, [up], mapped, True)
    movies = at(SourceAddress("Plex"), "1", "Movies", stored=False)
    nulls = (M("/data/Movies"), M("/data/More Movies"))
    assert actions[1:] == [
        AddCollection(movies, up.locations, nulls),
        SetIngestible(movies, False, False, "unmapped: /data/Movies, /data/More Movies"),
    ]
    assert states[0].path_mappings == nulls and states[0].ingestible is False


# ----- a stored source ---------------------------------------------------------------------------


def test_stored_source_matching_the_file_and_upstream_has_no_actions():
    stored = stored_fs(
        db_coll("Movies", sync=True, locations=["/media/Movies"]),
        db_coll("TV", locations=["/media/TV"]),
    )
    decl = fs_decl(coll("Movies", sync=True), coll("TV", sync=False))
    actions, states, problems = diff_source(
        decl, stored, [folder("Movies"), folder("TV")], always(True), False
    )
    assert (actions, problems) == ([], [])
    assert [(s.address, s.sync_enabled, s.ingestible, s.stored) for s in states] == [
        (at(STORED, "Movies"), True, True, True),
        (at(STORED, "TV"), False, True, True),
    ]


def test_stored_plex_source_with_mappings_in_place_has_no_actions():
    mappings = (M("/data/Movies", "/mnt/Movies"),)
    stored = stored_plex(db_coll("1", "Movies", True, True, ["/data/Movies"], mappings))
    decl = plex_decl(coll("Movies", sync=True, path_mappings=mappings))
    actions, states, problems = diff_source(
        decl, stored, [section("1", "Movies", "/data/Movies")], mapped, True
    )
    assert (actions, problems) == ([], [])
    assert states[0].path_mappings == mappings


def test_changed_config_value_is_an_update_with_one_field_change():
    stored = stored_fs(config={"base_path": "/old"})
    actions, _, _ = diff_source(fs_decl(config={"base_path": "/new"}), stored, [], always(), False)
    assert actions == [
        UpdateSource(STORED, (FieldChange("config.base_path", "/old", "/new", False),))
    ]


def test_changed_sensitive_value_is_marked_sensitive():
    stored = stored_plex(config={**PLEX_CONFIG, "token": "old-token"})
    actions, _, _ = diff_source(plex_decl(), stored, [], mapped, True)
    assert actions == [
        UpdateSource(STORED_PLEX, (FieldChange("config.token", "old-token", "t0k3n", True),))
    ]


def test_config_key_dropped_from_the_file_is_a_change_to_none():
    stored = stored_plex(config={**PLEX_CONFIG, "timeout": 60})
    actions, _, _ = diff_source(plex_decl(), stored, [], mapped, True)
    assert actions == [UpdateSource(STORED_PLEX, (FieldChange("config.timeout", 60, None, False),))]


def test_source_renamed_in_the_file_keeps_its_identity():
    """A declared source matched by external_id under a new name is renamed, not recreated."""
    decl = fs_decl(name="Films", external_id="filesystem-00000001")
    actions, _, _ = diff_source(decl, stored_fs(), [], always(), False)
    assert actions == [
        UpdateSource(SourceAddress("Films", SOURCE_ID), (FieldChange("name", "Library", "Films"),))
    ]


# ----- sync flags ------------------------------------------------------------------------------


def test_declared_sync_false_reverts_an_enabled_stored_collection():
    """README "How this meets retrovue.yaml": drift is shown as sync true -> false and reverted."""
    stored = stored_fs(db_coll("Movies", sync=True, locations=["/media/Movies"]))
    actions, states, _ = diff_source(
        fs_decl(coll("Movies", sync=False)), stored, [folder("Movies")], always(True), False
    )
    assert actions == [SetCollectionSync(at(STORED, "Movies"), True, False)]
    assert states[0].sync_enabled is False


def test_declared_sync_true_enables_a_disabled_stored_collection():
    stored = stored_fs(db_coll("Movies", sync=False, locations=["/media/Movies"]))
    actions, states, _ = diff_source(
        fs_decl(coll("Movies", sync=True)), stored, [folder("Movies")], always(True), False
    )
    assert actions == [SetCollectionSync(at(STORED, "Movies"), False, True)]
    assert states[0].sync_enabled is True


def test_undeclared_stored_collection_keeps_its_flags():
    """Collections the file does not list keep whatever an operator set (SD D-3)."""
    stored = stored_fs(
        db_coll("Movies", sync=False, locations=["/media/Movies"]),
        db_coll("TV", sync=True, locations=["/media/TV"]),
    )
    actions, states, _ = diff_source(
        fs_decl(coll("Movies", sync=False)),
        stored,
        [folder("Movies"), folder("TV")],
        always(),
        False,
    )
    assert actions == []
    assert {s.address.name: (s.sync_enabled, s.decl) for s in states} == {
        "Movies": (False, coll("Movies", sync=False)),
        "TV": (True, None),
    }


def test_declared_collection_without_sync_keeps_the_stored_flag():
    stored = stored_fs(db_coll("Movies", sync=True, locations=["/media/Movies"]))
    actions, states, _ = diff_source(
        fs_decl(coll("Movies")), stored, [folder("Movies")], always(True), False
    )
    assert actions == [] and states[0].sync_enabled is True


def test_declaration_matches_upstream_name_case_insensitively():
    stored = stored_fs(db_coll("Movies", sync=True, locations=["/media/Movies"]))
    actions, _, problems = diff_source(
        fs_decl(coll("MOVIES", sync=False)), stored, [folder("Movies")], always(True), False
    )
    assert problems == []
    assert actions == [SetCollectionSync(at(STORED, "Movies"), True, False)]


def test_declaration_by_external_id_ignores_names():
    stored = stored_plex(
        db_coll("2", "TV", sync=True, locations=["/data/TV"], mappings=[M("/data/TV", "/mnt/TV")])
    )
    actions, _, problems = diff_source(
        plex_decl(coll(external_id="2", sync=False)),
        stored,
        [section("2", "TV", "/data/TV")],
        mapped,
        True,
    )
    assert problems == []
    assert actions == [SetCollectionSync(at(STORED_PLEX, "2", "TV"), True, False)]


# ----- upstream drift ----------------------------------------------------------------------------


def test_collection_renamed_upstream_follows_the_new_name():
    """SD D-7: the stored name is updated and reported as renamed."""
    stored = stored_plex(
        db_coll("1", "Films", locations=["/data/Movies"], mappings=[M("/data/Movies", "/mnt/M")])
    )
    actions, states, _ = diff_source(
        plex_decl(), stored, [section("1", "Movies", "/data/Movies")], mapped, True
    )
    assert actions == [RenameCollection(at(STORED_PLEX, "1", "Movies"), "Films", "Movies")]
    assert states[0].address.name == "Movies"


def test_declaration_by_the_stored_name_still_matches_after_an_upstream_rename():
    stored = stored_plex(
        db_coll(
            "1",
            "Films",
            sync=True,
            locations=["/data/Movies"],
            mappings=[M("/data/Movies", "/mnt/M")],
        )
    )
    actions, _, problems = diff_source(
        plex_decl(coll("Films", sync=False)),
        stored,
        [section("1", "Movies", "/data/Movies")],
        mapped,
        True,
    )
    address = at(STORED_PLEX, "1", "Movies")
    assert problems == []
    assert actions == [
        RenameCollection(address, "Films", "Movies"),
        SetCollectionSync(address, True, False),
    ]


def test_stored_collection_no_longer_offered_is_reported_gone_and_kept():
    """SD N-1: gone upstream is reported, never deleted; it has no state to ingest."""
    stored = stored_fs(
        db_coll("Movies", locations=["/media/Movies"]),
        db_coll("Old", sync=True, locations=["/media/Old"]),
    )
    actions, states, _ = diff_source(fs_decl(), stored, [folder("Movies")], always(True), False)
    assert actions == [CollectionGoneUpstream(at(STORED, "Old"))]
    assert [s.address.name for s in states] == ["Movies"]


def test_declared_collection_not_offered_upstream_is_an_error_problem():
    """README: a listed collection the upstream does not offer is an error; the rest is planned."""
    stored = stored_fs(db_coll("Movies", sync=False, locations=["/media/Movies"]))
    actions, states, problems = diff_source(
        fs_decl(coll("Cartoons", sync=True), coll("Movies", sync=True)),
        stored,
        [folder("Movies"), folder("TV")],
        always(True),
        False,
    )
    assert problems == [
        Problem(
            "Library",
            "error",
            "declared collection 'Cartoons' is not offered upstream (offered: Movies, TV)",
            "Cartoons",
        )
    ]
    assert SetCollectionSync(at(STORED, "Movies"), False, True) in actions
    assert [s.address.name for s in states] == ["Movies", "TV"]


def test_declared_external_id_not_offered_is_labelled_by_external_id():
    _, _, problems = diff_source(
        fs_decl(coll(external_id="9", sync=True)), None, [], always(True), False
    )
    assert problems == [
        Problem(
            "Library",
            "error",
            "declared collection 'external_id 9' is not offered upstream (offered: none)",
            "external_id 9",
        )
    ]


def test_declared_name_of_a_collection_gone_upstream_is_not_matched():
    """A stored name only matches while that collection is still offered."""
    stored = stored_fs(db_coll("Old", locations=["/media/Old"]))
    actions, _, problems = diff_source(
        fs_decl(coll("Old", sync=True)), stored, [folder("Movies")], always(True), False
    )
    assert [p.collection for p in problems] == ["Old"]
    assert not any(isinstance(a, SetCollectionSync) for a in actions)


# ----- path mappings (path-mapped importers) ---------------------------------------------------


def test_declared_mapping_replacing_a_null_row_sets_mappings_and_ingestibility():
    stored = stored_plex(
        db_coll(
            "1",
            "Movies",
            ingestible=False,
            locations=["/data/Movies"],
            mappings=[M("/data/Movies")],
        )
    )
    declared = (M("/data/Movies", "/mnt/Movies"),)
    seen = []

    def check(up, mappings):
        seen.append(tuple(mappings))
        return mapped(up, mappings)

    actions, states, problems = diff_source(
        plex_decl(coll("Movies", path_mappings=declared)),
        stored,
        [section("1", "Movies", "/data/Movies")],
        check,
        True,
    )
    address = at(STORED_PLEX, "1", "Movies")
    assert problems == []
    assert actions == [
        SetPathMappings(address, (M("/data/Movies"),), declared),
        SetIngestible(address, False, True, None),
    ]
    assert seen == [declared]  # ingestibility is judged on the mappings as they will be
    assert (states[0].path_mappings, states[0].ingestible) == (declared, True)


def test_declared_mapping_with_a_new_local_path_is_a_change():
    stored = stored_plex(
        db_coll("1", "Movies", locations=["/data/Movies"], mappings=[M("/data/Movies", "/mnt/old")])
    )
    actions, _, _ = diff_source(
        plex_decl(coll("Movies", path_mappings=(M("/data/Movies", "/mnt/new"),))),
        stored,
        [section("1", "Movies", "/data/Movies")],
        mapped,
        True,
    )
    assert actions == [
        SetPathMappings(
            at(STORED_PLEX, "1", "Movies"),
            (M("/data/Movies", "/mnt/old"),),
            (M("/data/Movies", "/mnt/new"),),
        )
    ]


def test_same_mappings_in_another_order_are_no_change():
    rows = (M("/data/A", "/mnt/A"), M("/data/B", "/mnt/B"))
    stored = stored_plex(db_coll("1", "Movies", locations=["/data/A", "/data/B"], mappings=rows))
    actions, _, _ = diff_source(
        plex_decl(coll("Movies", path_mappings=tuple(reversed(rows)))),
        stored,
        [section("1", "Movies", "/data/A", "/data/B")],
        mapped,
        True,
    )
    assert actions == []


def test_declared_mapping_on_a_new_collection_follows_its_discovery():
    """SCG G-6: a location no declared mapping covers still gets its NULL row."""
    up = section("1", "Movies", "/data/A", "/data/B")
    declared = (M("/data/A", "/mnt/A"),)
    actions, states, _ = diff_source(
        plex_decl(coll("Movies", path_mappings=declared)), None, [up], mapped, True
    )
    address = at(SourceAddress("Plex"), "1", "Movies", stored=False)
    assert actions[1:] == [
        AddCollection(address, up.locations, (M("/data/A"), M("/data/B"))),
        SetPathMappings(
            address, (M("/data/A"), M("/data/B")), (M("/data/A", "/mnt/A"), M("/data/B"))
        ),
        SetIngestible(address, False, False, "unmapped: /data/B"),
    ]


def test_new_upstream_location_of_a_stored_collection_gets_a_null_row():
    """SD D-4: existing rows are kept as they are; the new location gets local_path NULL."""
    stored = stored_plex(
        db_coll("1", "Movies", sync=True, locations=["/data/A"], mappings=[M("/data/A", "/mnt/A")])
    )
    actions, states, _ = diff_source(
        plex_decl(), stored, [section("1", "Movies", "/data/A", "/data/B")], mapped, True
    )
    address = at(STORED_PLEX, "1", "Movies")
    assert actions == [
        SetPathMappings(address, (M("/data/A", "/mnt/A"),), (M("/data/A", "/mnt/A"), M("/data/B"))),
        SetIngestible(address, True, False, "unmapped: /data/B"),
    ]
    assert states[0].sync_enabled is True  # the flag is kept; ingestibility decides the ingest


def test_declared_plex_path_outside_every_location_is_an_error_problem():
    stored = stored_plex(
        db_coll("1", "Movies", locations=["/data/Movies"], mappings=[M("/data/Movies")])
    )
    _, _, problems = diff_source(
        plex_decl(coll("Movies", path_mappings=(M("/data/Movis", "/mnt/Movies"),))),
        stored,
        [section("1", "Movies", "/data/Movies")],
        mapped,
        True,
    )
    assert problems == [
        Problem(
            "Plex",
            "error",
            "path mapping plex_path '/data/Movis' is outside every location of collection "
            "'Movies' (/data/Movies)",
            "Movies",
        )
    ]


def test_declared_plex_path_above_a_location_is_accepted():
    stored = stored_plex(
        db_coll("1", "Movies", locations=["/data/Movies"], mappings=[M("/data/Movies")])
    )
    actions, _, problems = diff_source(
        plex_decl(coll("Movies", path_mappings=(M("/data", "/mnt"),))),
        stored,
        [section("1", "Movies", "/data/Movies")],
        always(True),
        True,
    )
    assert problems == []
    assert actions == [
        SetPathMappings(at(STORED_PLEX, "1", "Movies"), (M("/data/Movies"),), (M("/data", "/mnt"),))
    ]


def test_importer_without_path_mappings_discovers_no_mapping_rows():
    stored = stored_fs(db_coll("Movies", locations=["/media/Movies"]))
    actions, states, _ = diff_source(fs_decl(), stored, [folder("Movies")], always(True), False)
    assert actions == [] and states[0].path_mappings == ()


# ----- ingestibility -----------------------------------------------------------------------------


def test_ingestibility_lost_is_a_change_with_the_reason():
    stored = stored_fs(db_coll("Movies", sync=True, ingestible=True, locations=["/media/Movies"]))
    reason = "folder '/media/Movies' does not exist"
    actions, states, _ = diff_source(
        fs_decl(), stored, [folder("Movies")], always(False, reason), False
    )
    assert actions == [SetIngestible(at(STORED, "Movies"), True, False, reason)]
    assert (states[0].sync_enabled, states[0].ingestible) == (True, False)


def test_ingestibility_regained_is_a_change():
    stored = stored_fs(db_coll("Movies", ingestible=False, locations=["/media/Movies"]))
    actions, states, _ = diff_source(fs_decl(), stored, [folder("Movies")], always(True), False)
    assert actions == [SetIngestible(at(STORED, "Movies"), False, True, None)]
    assert states[0].ingestible is True


def test_stored_collection_still_not_ingestible_is_no_change():
    stored = stored_fs(db_coll("Movies", ingestible=False, locations=["/media/Movies"]))
    actions, _, _ = diff_source(
        fs_decl(), stored, [folder("Movies")], always(False, "still broken"), False
    )
    assert actions == []


# ----- the states handed to the ingest planner ---------------------------------------------------


def test_states_describe_every_upstream_collection_as_it_will_be_after_apply():
    stored = stored_fs(
        db_coll("Movies", sync=True, ingestible=True, locations=["/media/Movies"]),
        db_coll("TV", sync=True, ingestible=True, locations=["/media/TV"]),
    )
    decl = fs_decl(coll("Movies", sync=False), coll("Shorts", sync=True))

    def check(up, _mappings):
        return (False, "gone") if up.name == "TV" else (True, None)

    _, states, _ = diff_source(
        decl, stored, [folder("Movies"), folder("TV"), folder("Shorts")], check, False
    )
    assert [
        (s.address.name, s.address.id, s.sync_enabled, s.ingestible, s.stored) for s in states
    ] == [
        ("Movies", coll_id("Movies"), False, True, True),  # declared sync: false
        ("TV", coll_id("TV"), True, False, True),  # undeclared: flag kept, ingestibility re-checked
        ("Shorts", None, True, True, False),  # new, declared sync: true
    ]
    assert [s.upstream for s in states] == [folder("Movies"), folder("TV"), folder("Shorts")]
