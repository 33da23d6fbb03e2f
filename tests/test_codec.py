"""The plan codec: every action survives encode -> (JSON text ->) decode, and no secret is written."""

from __future__ import annotations

import ast
import dataclasses
import json
import typing
import uuid
from pathlib import Path

import jsonschema
import pytest

from retrovue.model.actions import (
    Action,
    AddCollection,
    AssetDetail,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    DeleteSource,
    EnrichCollection,
    FieldChange,
    IngestCollection,
    MappingRoot,
    Plan,
    Problem,
    PruneSource,
    RenameCollection,
    SetApproval,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    SkippedCollection,
    SkipReason,
    SourceAddress,
    UpdateSource,
    WipeCollection,
)
from retrovue.model.codec import (
    FORMAT_VERSION,
    KINDS,
    SENSITIVE_SHOWN,
    CodecError,
    UnknownKindError,
    decode_action,
    decode_plan,
    decode_record,
    encode_action,
    encode_plan,
    encode_record,
)
from retrovue.model.counts import IngestCounts
from retrovue.model.enrichment import EnricherSpec, EnrichWork
from retrovue.model.enums import ProblemKind, Scope
from retrovue.model.snapshots import CollectionFingerprint, DbState, SourceFingerprint
from retrovue.model.upstream import PathMappingSpec
from retrovue.plan.document import plan_to_json

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"
PLAN_SCHEMA = json.loads((SRC / "schemas" / "plan.schema.json").read_text())

SOURCE = SourceAddress("Living Room Plex", uuid.UUID("00000000-0000-4000-8000-000000000001"))
COLLECTION = CollectionAddress(
    SOURCE, "7", "Movies", uuid.UUID("00000000-0000-4000-8000-000000000002")
)
MAPPINGS = (PathMappingSpec("/data/Movies", "/mnt/movies"), PathMappingSpec("/data/Old", None))
TOKEN = "s3cret-plex-token"
SECRETS = {("Living Room Plex", "token"): TOKEN}

# one sample per action class, every field away from its default (enforced below)
SAMPLES: dict[type, Action] = {
    CreateSource: CreateSource(
        SOURCE,
        "plex",
        "machine-1",
        {"base_url": "http://plex:32400", "token": TOKEN, "options": {"b": 2, "a": [1, 2]}},
        frozenset({"token", "password"}),  # a sensitive param need not be set
        origin="cli",
    ),
    UpdateSource: UpdateSource(
        SOURCE,
        (
            FieldChange("name", "Den Plex", "Living Room Plex"),
            # a sensitive "before" is never written, so cannot come back: this one was unset
            FieldChange("config.token", None, TOKEN, sensitive=True),
        ),
    ),
    AddCollection: AddCollection(
        COLLECTION, ("/data/Movies", "/data/More"), MAPPINGS, "Movies " * 40
    ),
    RenameCollection: RenameCollection(COLLECTION, "Films", "Movies", "Movies " * 40),
    CollectionGoneUpstream: CollectionGoneUpstream(COLLECTION),
    SetCollectionSync: SetCollectionSync(COLLECTION, False, True),
    SetPathMappings: SetPathMappings(COLLECTION, MAPPINGS[:1], MAPPINGS),
    SetIngestible: SetIngestible(COLLECTION, True, False, "no local path exists"),
    IngestCollection: IngestCollection(
        COLLECTION,
        IngestCounts(*range(1, 12)),
        scope=Scope.EPISODE,
        title="Show",
        season=2,
        episode=3,
        items=("1000", "1001"),
        degraded=True,
        degraded_reason="upstream listed partially",
        skipped=(SkipReason("unmapped", 4, "/data/x.mkv"), SkipReason("dup", 1, "/data/y")),
        missing_threshold=0.5,
        mapping_roots=(MappingRoot("/data/Movies", "/mnt/movies", True),),
        db_fingerprint="sha256:0123456789abcdef",
        detail=(AssetDetail("missing", 12, ("/mnt/movies/a.mkv",)),),
        folders=("/mnt/movies/Season 1",),
    ),
    PruneSource: PruneSource(
        SOURCE, "machine-1", "plex", collections=3, assets=40, prune=True, protected_assets=2
    ),
    SetPathMappingLocal: SetPathMappingLocal(COLLECTION, "/data/Movies", "/mnt/old", None),
    DeleteSource: DeleteSource(
        SOURCE, "plex", collections=2, path_mappings=3, assets=40, override_safety=True
    ),
    WipeCollection: WipeCollection(COLLECTION, assets=40, override_safety=True),
    SetApproval: SetApproval(
        COLLECTION, (uuid.UUID("00000000-0000-0000-0000-0000000000aa"),), approved=True
    ),
    SetEnrichers: SetEnrichers(
        SOURCE,
        (EnricherSpec("ffprobe", 1, {"probe_size": 5}),),
        (EnricherSpec("loudness", 2, {"x": [1]}),),
        collection=COLLECTION,
    ),
    EnrichCollection: EnrichCollection(
        COLLECTION,
        (EnrichWork("ffprobe", "2", 12),),
        force=True,
        retry_failed=True,
        unavailable=("scenes",),
        stuck=3,
        by_workers=True,
    ),
}

ACTION_CLASSES = typing.get_args(Action)


def _secret(source: str, key: str) -> str:
    return SECRETS[(source, key)]


def _defaults_kept(record: object) -> list[str]:
    """Fields of ``record`` (and of the dataclasses in it) still at their default value."""
    kept = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            kept.append(f"{type(record).__name__}.{f.name}")
        for item in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(item):
                kept += _defaults_kept(item)
    return kept


def test_every_action_class_has_a_sample_and_a_kind():
    assert set(SAMPLES) == set(ACTION_CLASSES), "add a sample for each new action"
    assert set(KINDS) == set(ACTION_CLASSES), "add each new action to the codec's table"
    assert len(set(KINDS.values())) == len(KINDS), "one wire name per class"
    assert set(KINDS.values()) == set(
        PLAN_SCHEMA["$defs"]["action"]["properties"]["kind"]["enum"]
    ), "plan.schema.json lists exactly the codec's kinds"


@pytest.mark.parametrize("cls", ACTION_CLASSES, ids=lambda c: c.__name__)
def test_samples_leave_no_field_at_its_default(cls):
    # a default survives a round trip that drops the field: it would prove nothing
    sample = SAMPLES[cls]
    assert type(sample) is cls
    # the UpdateSource sample holds a plain change next to the sensitive one
    assert set(_defaults_kept(sample)) <= {"FieldChange.sensitive"}


@pytest.mark.parametrize("cls", ACTION_CLASSES, ids=lambda c: c.__name__)
def test_round_trip(cls):
    action = SAMPLES[cls]
    encoded = encode_action(action)
    assert encoded["kind"] == KINDS[cls]
    direct = decode_action(encoded, _secret)
    through_text = decode_action(json.loads(json.dumps(encoded)), _secret)
    assert direct == action
    assert through_text == action
    if isinstance(action, CreateSource):  # config is compare=False on the dataclass
        assert direct.config == through_text.config == action.config


@pytest.mark.parametrize("cls", ACTION_CLASSES, ids=lambda c: c.__name__)
def test_every_kind_validates_against_the_schema(cls):
    jsonschema.validate(plan_to_json(Plan(actions=(SAMPLES[cls],))), PLAN_SCHEMA)


def test_created_ids_stay_none():
    created = CollectionAddress(SourceAddress("New"), "9", "TV")
    action = SetCollectionSync(created, True, False)
    encoded = json.loads(json.dumps(encode_action(action)))
    assert encoded["collection"]["id"] is None and encoded["collection"]["source"]["id"] is None
    assert decode_action(encoded) == action


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_value_is_written():
    plan = Plan(actions=(SAMPLES[CreateSource], SAMPLES[UpdateSource]))
    text = json.dumps(encode_plan(plan))
    assert TOKEN not in text
    create, update = encode_plan(plan)["actions"]
    assert create["config"]["token"] == SENSITIVE_SHOWN
    assert create["config"]["base_url"] == "http://plex:32400"
    assert create["sensitive_keys"] == ["password", "token"]
    assert update["changes"][1] == {
        "field": "config.token",
        "before": None,
        "after": SENSITIVE_SHOWN,
        "sensitive": True,
    }


def test_a_sensitive_before_is_never_written_and_stays_masked():
    change = FieldChange("config.token", "old-secret-value", TOKEN, sensitive=True)
    encoded = encode_action(UpdateSource(SOURCE, (change,)))
    assert "old-secret-value" not in json.dumps(encoded) and TOKEN not in json.dumps(encoded)
    (decoded,) = decode_action(encoded, _secret).changes
    assert decoded == FieldChange("config.token", SENSITIVE_SHOWN, TOKEN, sensitive=True)


def test_without_a_lookup_secrets_stay_placeholders():
    decoded = decode_action(encode_action(SAMPLES[CreateSource]))
    assert decoded.config["token"] == SENSITIVE_SHOWN
    (_, change) = decode_action(encode_action(SAMPLES[UpdateSource])).changes
    assert change.after == SENSITIVE_SHOWN


def test_a_1_1_create_source_without_sensitive_keys_still_restores_its_secret():
    encoded = encode_action(SAMPLES[CreateSource])
    del encoded["sensitive_keys"]  # 1.1 files did not write it
    decoded = decode_action(encoded, _secret)
    assert decoded.config["token"] == TOKEN and decoded.sensitive_keys == {"token"}


# --- wire shape ------------------------------------------------------------------------------------


def test_documented_names_and_shapes_are_kept():
    ingest = encode_action(SAMPLES[IngestCollection])
    assert ingest["skipped_reasons"] == [
        {"reason": "unmapped", "count": 4, "example": "/data/x.mkv"},
        {"reason": "dup", "count": 1, "example": "/data/y"},
    ]
    assert "skipped" not in ingest and ingest["scope"] == "episode"
    assert ingest["counts"] == dataclasses.asdict(IngestCounts(*range(1, 12)))
    assert ingest["address"] == 'collection "Living Room Plex"/"Movies"'
    assert ingest["collection"] == {
        "source": {"name": "Living Room Plex", "id": str(SOURCE.id)},
        "external_id": "7",
        "name": "Movies",
        "id": str(COLLECTION.id),
    }
    local = encode_action(SAMPLES[SetPathMappingLocal])
    assert local["kind"] == "set_path_mapping_local"
    assert (local["plex_path"], local["before"], local["after"]) == (
        "/data/Movies",
        "/mnt/old",
        None,
    )
    assert encode_action(SAMPLES[AddCollection])["path_mappings"] == [
        {"plex_path": "/data/Movies", "local_path": "/mnt/movies"},
        {"plex_path": "/data/Old", "local_path": None},
    ]


def test_plan_round_trip():
    plan = Plan(
        actions=tuple(SAMPLES[c] for c in ACTION_CLASSES),
        problems=(Problem("Den", ProblemKind.UNREACHABLE, "timed out", "Movies"),),
        skipped=(SkippedCollection("Den", "3", "Music", "section type 'artist' is not ingested"),),
        config_file="retrovue.yaml",
        config_hash="sha256:abcd",
        secret_fingerprints={"Living Room Plex.token": "sha256:ef01"},
        allow_mass_missing=True,
    )
    document = json.loads(json.dumps(encode_plan(plan)))
    assert document["format_version"] == FORMAT_VERSION
    rebuilt = decode_plan(document, _secret)
    assert rebuilt == plan
    assert rebuilt.secret_fingerprints == plan.secret_fingerprints


def test_db_state_round_trip():
    state = DbState(
        "0002_rev",
        "sha256:aa",
        {
            "id-1": SourceFingerprint(
                "Library", "sha256:bb", {"movies": CollectionFingerprint("movies", "sha256:cc")}
            )
        },
    )
    document = json.loads(json.dumps(encode_record(state)))
    assert document["sources"]["id-1"]["collections"]["movies"] == {
        "name": "movies",
        "fingerprint": "sha256:cc",
    }
    assert decode_record(DbState, document) == state


# --- what does not decode ---------------------------------------------------------------------------


def test_unknown_kind_is_refused():
    with pytest.raises(UnknownKindError) as caught:
        decode_action({"kind": "teleport_source", "source": {"name": "x", "id": None}})
    assert caught.value.kind == "teleport_source"


def test_missing_field_is_refused_and_unknown_fields_are_ignored():
    encoded = encode_action(SAMPLES[RenameCollection])
    with pytest.raises(CodecError, match="'after'"):
        decode_action({k: v for k, v in encoded.items() if k != "after"})
    # a newer minor version may add fields (and counts): this one reads on
    newer = encoded | {"added_in_1_9": 1}
    assert decode_action(newer) == SAMPLES[RenameCollection]
    ingest = encode_action(SAMPLES[IngestCollection])
    ingest["counts"]["teleported"] = 3
    assert decode_action(ingest).counts == SAMPLES[IngestCollection].counts


def test_wrong_types_are_refused():
    encoded = encode_action(SAMPLES[AddCollection])
    with pytest.raises(CodecError):
        decode_action(encoded | {"locations": "/data/Movies"})  # not a list
    with pytest.raises(CodecError):
        decode_action(encoded | {"collection": "Movies"})
    with pytest.raises(ValueError):
        decode_action(encoded | {"collection": encoded["collection"] | {"id": "not-a-uuid"}})


# --- the model stays a leaf ---------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_codec_imports_nothing_outside_the_model():
    outside = {
        name
        for name in _imports(SRC / "model" / "codec.py")
        if name.startswith("retrovue") and not name.startswith("retrovue.model")
    }
    assert outside == set()


def test_the_shipped_plan_schema_is_generated_from_the_registered_kinds():
    """Issue 18: schemas/plan.schema.json's actions part is generated (regenerate with
    `python -m retrovue.model.plan_schema > src/retrovue/schemas/plan.schema.json`)."""
    from retrovue.model.plan_schema import plan_schema_text

    assert (SRC / "schemas" / "plan.schema.json").read_text() == plan_schema_text()
