"""The wire format of plans: one codec, keyed on the action class.

``plan --json``, ``plan --out`` and ``apply PLAN`` all go through here, so what is written is
what is read back.  Fields are encoded generically from the dataclasses (ids as text, tuples as
lists, frozensets as sorted lists, enums as their value, dicts with sorted keys, a field's
``metadata["json"]`` as its key) and the kinds are those ``model.actions`` registered, so a new
action needs nothing here.  The documented shape is ``schemas/plan.schema.json``, whose actions
part ``model.plan_schema`` generates from the same registry.

Secret values are never written: the ``CreateSource.config`` values of its ``sensitive_keys``
and both sides of a sensitive ``FieldChange`` become ``SENSITIVE_SHOWN``.  ``decode_action`` puts
them back only when handed a ``SecretLookup`` (saved plans: the reloaded config).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from retrovue.model.actions import (
    KINDS,
    SENSITIVE_SHOWN,
    Action,
    CollectionAddress,
    CreateSource,
    Plan,
    Problem,
    SkippedCollection,
    SourceAddress,
    UpdateSource,
    is_change,
    kind_class,
)

#: semver: a minor bump only adds (1.1: prune_source, origin, ingest scope filters,
#: allow_mass_missing; 1.2: set_path_mapping_local, create_source.sensitive_keys,
#: override_safety on delete_source/wipe_collection; 1.3: notes, and saved plans' digest with
#: keyed "hmac-sha256:" fingerprints of secrets and source rows; 1.4: set_enrichers and
#: enrich_collection; 1.5 and 1.6: saved-plan fields; 1.7: enrich_collection.stuck and
#: summary.assets_stuck; 1.8: upstream_name on discover_collection and rename_collection; 1.9:
#: enrich_collection.by_workers; 1.10: ingest_collection.folders and scope "folders")
FORMAT_VERSION = "1.10.0"

#: ``(source name, config key) -> secret value``; raises when the value cannot be had
SecretLookup = Callable[[str, str], Any]

T = TypeVar("T")


class CodecError(ValueError):
    """A document that does not decode into a plan (a missing field, a wrong type)."""


class UnknownKindError(CodecError):
    """An action kind this version does not know (a newer retrovue wrote the plan)."""

    def __init__(self, kind: Any):
        super().__init__(f"unknown action kind {kind!r}")
        self.kind = kind


# --- secrets ------------------------------------------------------------------------------------


def _hide(value: Any) -> Any:
    # None stays None: "not set" is no secret, and the reader needs to know it
    return None if value is None else SENSITIVE_SHOWN


def _mask_create(a: CreateSource) -> CreateSource:
    config = {k: SENSITIVE_SHOWN if k in a.sensitive_keys else v for k, v in a.config.items()}
    return dataclasses.replace(a, config=config)


def _unmask_create(a: CreateSource, secret: SecretLookup) -> CreateSource:
    # 1.1 files carry no sensitive_keys: there the placeholder itself marks what was hidden
    hidden = a.sensitive_keys | {k for k, v in a.config.items() if v == SENSITIVE_SHOWN}
    config = {k: secret(a.source.name, k) if k in hidden else v for k, v in a.config.items()}
    return dataclasses.replace(a, config=config, sensitive_keys=frozenset(hidden))


def _mask_update(a: UpdateSource) -> UpdateSource:
    changes = tuple(
        dataclasses.replace(c, before=_hide(c.before), after=_hide(c.after)) if c.sensitive else c
        for c in a.changes
    )
    return dataclasses.replace(a, changes=changes)


def _unmask_update(a: UpdateSource, secret: SecretLookup) -> UpdateSource:
    # only "after" comes back: the executor writes it and never needs the old secret
    changes = tuple(
        dataclasses.replace(c, after=secret(a.source.name, c.config_key or c.field))
        if c.sensitive and c.after is not None
        else c
        for c in a.changes
    )
    return dataclasses.replace(a, changes=changes)


@dataclass(frozen=True)
class _Secrets:
    """How one action class hides its secret values, and how it gets them back."""

    mask: Callable[[Any], Any]
    unmask: Callable[[Any, SecretLookup], Any]


# --- the kinds ----------------------------------------------------------------------------------

#: the classes that hide secret values on the wire; every other kind is written as it is
_SECRETS: Mapping[type, _Secrets] = MappingProxyType(
    {
        CreateSource: _Secrets(_mask_create, _unmask_create),
        UpdateSource: _Secrets(_mask_update, _unmask_update),
    }
)


# --- actions ------------------------------------------------------------------------------------


def encode_action(action: Action) -> dict[str, Any]:
    """The JSON object of one action: ``kind``, ``change``, ``address``, then its fields."""
    name = KINDS[type(action)]
    head = {"kind": name, "change": is_change(action), "address": str(_target(action))}
    secrets = _SECRETS.get(type(action))
    if secrets is not None:
        action = secrets.mask(action)
    return head | _encode_fields(action)


def decode_action(document: Mapping[str, Any], secret: SecretLookup | None = None) -> Action:
    """The action a JSON object describes.  ``change`` and ``address`` are derived, so ignored;
    secret values stay ``SENSITIVE_SHOWN`` unless ``secret`` can tell them."""
    if not isinstance(document, Mapping):
        raise CodecError(f"an action must be an object, not {type(document).__name__}")
    if "kind" not in document:
        raise CodecError("an action has no 'kind'")
    cls = kind_class(document["kind"]) if isinstance(document["kind"], str) else None
    if cls is None:
        raise UnknownKindError(document["kind"])
    action = _decode_fields(cls, document)
    secrets = _SECRETS.get(cls)
    if secret is not None and secrets is not None:
        action = secrets.unmask(action, secret)
    return action


def _target(action: Action) -> SourceAddress | CollectionAddress:
    return getattr(action, "collection", None) or action.source


# --- plans and other records --------------------------------------------------------------------


def encode_plan(plan: Plan) -> dict[str, Any]:
    """A plan's own content; its JSON document (``plan.document``) adds what is derived from it
    (the summary), saved plans what they were made against."""
    return {
        "format_version": FORMAT_VERSION,
        "config_file": plan.config_file,
        "config_hash": plan.config_hash,
        "secret_fingerprints": _encode(plan.secret_fingerprints),
        "allow_mass_missing": plan.allow_mass_missing,
        "has_changes": plan.has_changes,
        "actions": [encode_action(a) for a in plan.actions],
        "problems": [encode_record(p) for p in plan.problems],
        "skipped_collections": [encode_record(s) for s in plan.skipped],
        "notes": list(plan.notes),
    }


def decode_plan(document: Mapping[str, Any], secret: SecretLookup | None = None) -> Plan:
    """The plan ``encode_plan`` wrote (``db_state`` aside: it is not part of the plan JSON)."""
    if not isinstance(document, Mapping):
        raise CodecError(f"a plan must be an object, not {type(document).__name__}")
    if "actions" not in document:
        raise CodecError("a plan must have 'actions'")
    return Plan(
        actions=tuple(decode_action(a, secret) for a in _list(document.get("actions"))),
        problems=tuple(decode_record(Problem, p) for p in _list(document.get("problems"))),
        skipped=tuple(
            decode_record(SkippedCollection, s) for s in _list(document.get("skipped_collections"))
        ),
        config_file=_decode(str | None, document.get("config_file")),
        config_hash=_decode(str | None, document.get("config_hash")),
        secret_fingerprints=_decode(dict[str, str], document.get("secret_fingerprints")) or {},
        allow_mass_missing=bool(document.get("allow_mass_missing", False)),
        notes=tuple(str(n) for n in _list(document.get("notes"))),
    )


def _list(value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CodecError(f"expected a list, not {type(value).__name__}")
    return value


def encode_record(record: Any) -> dict[str, Any]:
    """Any plain dataclass of the model (problems, fingerprints, counts) as a JSON object."""
    return _encode_fields(record)


def decode_record(cls: type[T], document: Any) -> T:
    return _decode_fields(cls, document)


def decode_as(tp: Any, value: Any) -> Any:
    """``value`` checked against a type the way fields are (``str | None``, ``dict[str, str]``…);
    a CodecError says what was expected."""
    return _decode(tp, value)


# --- generic field encoding ---------------------------------------------------------------------


def json_key(f: dataclasses.Field) -> str:
    """A field's key on the wire: its name, unless the documented JSON names it otherwise
    (``field(metadata={"json": …})``)."""
    return f.metadata.get("json", f.name)


def _encode_fields(record: Any) -> dict[str, Any]:
    return {json_key(f): _encode(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before str: a StrEnum is one
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_fields(value)
    if isinstance(value, (frozenset, set)):
        return sorted(_encode(v) for v in value)  # sorted: the same plan, the same bytes
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(value[k]) for k in sorted(value)}
    return value


def _decode_fields(cls: type[T], document: Any) -> T:
    if not isinstance(document, Mapping):
        raise CodecError(f"{cls.__name__} must be an object, not {type(document).__name__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        key = json_key(f)
        if key in document:
            values[f.name] = _decode_field(cls, key, hints[f.name], document[key])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{cls.__name__} is missing {key!r}")
        # absent but defaulted: an older minor version wrote it, the default stands; unknown
        # keys are ignored the same way, as a newer minor version may add fields
    return cls(**values)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode_field(cls: type, key: str, tp: Any, value: Any) -> Any:
    """One field, its failure told with the field's place (``IngestCollection.counts: …``)."""
    try:
        return _decode(tp, value)
    except CodecError as exc:
        raise CodecError(f"{cls.__name__}.{key}: {exc}") from None
    except (TypeError, ValueError) as exc:  # an enum value or an id that is not one
        raise CodecError(f"{cls.__name__}.{key}: {exc}") from None


#: JSON scalars a field's type asks for, and how to name them in an error
_SCALARS: Mapping[type, tuple[tuple[type, ...], str]] = MappingProxyType(
    {
        str: ((str,), "text"),
        bool: ((bool,), "true or false"),
        int: ((int,), "an integer"),
        float: ((int, float), "a number"),
    }
)


def _decode(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if value is None:
        # null only where the field may be None: anything else would fail later, in the executor
        if tp is Any or (origin in (typing.Union, types.UnionType) and type(None) in args):
            return None
        raise CodecError("must not be null")
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _decode(inner[0], value) if len(inner) == 1 else value
    if origin in (tuple, frozenset) or tp in (tuple, frozenset):
        item = args[0] if args else Any
        return (origin or tp)(_decode(item, v) for v in _list(value))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise CodecError(f"expected an object, not {type(value).__name__}")
        item = args[1] if args else Any
        return {k: _decode(item, v) for k, v in value.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _decode_fields(tp, value)
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is uuid.UUID:
            if not isinstance(value, str):
                raise CodecError(f"expected an id as text, not {type(value).__name__}")
            return uuid.UUID(value)
        if tp in _SCALARS:
            return _scalar(tp, value)
    return value


def _scalar(tp: type, value: Any) -> Any:
    accepted, name = _SCALARS[tp]
    # bool is an int in Python, but true is no count and 1 is no flag
    if not isinstance(value, accepted) or (tp is not bool and isinstance(value, bool)):
        raise CodecError(f"expected {name}, not {type(value).__name__}")
    return float(value) if tp is float else value
