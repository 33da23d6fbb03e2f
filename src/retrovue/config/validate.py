"""retrovue.yaml → DesiredState: syntax, interpolation, schema and semantic checks in one pass.

Every problem found is reported together (a ConfigError carries them all), each with
file:line:column and its JSON path.  Nothing here touches the database or an upstream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from retrovue.config.durations import seconds
from retrovue.config.loader import (
    LoadedDocument,
    has_reference,
    interpolate,
    load_yaml,
    whole_reference,
)
from retrovue.config.model import (
    DEFAULT_MISSING_THRESHOLD,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESYNC,
    CollectionDecl,
    DesiredState,
    SourceDecl,
)
from retrovue.config.references import references_of
from retrovue.config.schema import build_schema
from retrovue.errors import ConfigError, Diagnostic, RetrovueError
from retrovue.importers import pathmap
from retrovue.importers.base import PathMappingSpec
from retrovue.importers.exclude import pattern_problem
from retrovue.importers.kinds import rule_of
from retrovue.importers.registry import Registry
from retrovue.model.enrichment import EnricherSpec
from retrovue.model.upstream import COLLECTION_EXCLUDE

if TYPE_CHECKING:
    from retrovue.enrichers.registry import EnricherRegistry

#: loads the enricher registry (built-ins and plugins); called only for a file that lists some
EnricherLoader = Callable[[], "EnricherRegistry"]

ENV_CONFIG = "RETROVUE_CONFIG"
#: CI validates files from pull requests: parsing must stay bounded whatever they contain
MAX_FILE_BYTES = 4 * 2**20


def config_path(option: str | None) -> str:
    return option or os.environ.get(ENV_CONFIG) or "retrovue.yaml"


def load_config(
    path: str,
    registry: Registry,
    environ: Mapping[str, str] | None = None,
    enrichers: EnricherLoader | None = None,
) -> DesiredState:
    """``enrichers`` loads the enricher registry the ``enrichers:`` lists are checked against
    (default: built-ins and plugins); a file that lists none never loads it."""
    environ = dict(os.environ if environ is None else environ)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            [Diagnostic("config file not found (use -c FILE or $RETROVUE_CONFIG)", path)]
        ) from None
    except OSError as exc:
        raise ConfigError([Diagnostic(f"cannot read config file: {exc.strerror}", path)]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(
            [Diagnostic(f"config file is larger than {MAX_FILE_BYTES // 2**20} MiB", path)]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Diagnostic(f"config file is not UTF-8 (byte {exc.start})", path)]
        ) from None

    doc = load_yaml(text, path)
    interpolated = interpolate(doc, environ)
    data, problems = interpolated.data, interpolated.problems
    non_finite = non_finite_numbers(doc, data)
    reported = {d.path for d in non_finite}
    problems += non_finite
    problems += [d for d in schema_problems(doc, data, registry) if d.path not in reported]
    # every check runs in the one pass; a place already reported (an unset variable left as
    # written, a value of the wrong type) is not reported a second time
    places = {d.path for d in problems}
    problems += [
        d for d in semantic_problems(doc, data, _path_mappers(registry)) if d.path not in places
    ]
    problems += [d for d in enricher_problems(doc, data, enrichers) if d.path not in places]
    problems += [d for d in exclude_problems(doc, data, registry) if d.path not in places]
    if problems:
        raise ConfigError(sorted(problems, key=lambda d: (d.line or 0, d.column or 0)))
    return dataclasses.replace(
        _desired_state(path, raw, doc, data, registry), environment=interpolated.variables
    )


def non_finite_numbers(doc: LoadedDocument, data, path: tuple = ()) -> list[Diagnostic]:
    """NaN compares false with every bound, so a schema's minimum/maximum would let it through
    (and a NaN threshold would switch the mass-missing guard off)."""
    if isinstance(data, float) and not math.isfinite(data):
        return [doc.diagnostic(f"{data!r} is not a finite number", path)]
    if isinstance(data, dict):
        return [d for k, v in data.items() for d in non_finite_numbers(doc, v, path + (k,))]
    if isinstance(data, list):
        return [d for i, v in enumerate(data) for d in non_finite_numbers(doc, v, path + (i,))]
    return []


def schema_problems(doc: LoadedDocument, data, registry: Registry) -> list[Diagnostic]:
    validator = Draft202012Validator(build_schema(registry, _source_types(data)))
    problems = []
    for error in validator.iter_errors(data):
        at = tuple(error.absolute_path)
        problems += [doc.diagnostic(message, at) for message in _messages(error)]
    return _unique(problems)


def _source_types(data) -> set[str]:
    """The source types a document names (whatever its shape: the schema judges that)."""
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, list):
        return set()
    return {s["type"] for s in sources if isinstance(s, dict) and isinstance(s.get("type"), str)}


def _messages(error) -> list[str]:
    """What the file's author reads, from the error's structured fields (its keyword, the
    keyword's value in the schema, the value at fault), never by rewording jsonschema's text."""
    if error.validator == "additionalProperties":
        return [_unknown_keys(error.instance, error.schema)]
    if error.validator == "required":
        # the error does not say which property it is about: each names every one missing,
        # and the duplicates go (``_unique``)
        return [f"{name!r} is required" for name in _missing(error.instance, error.validator_value)]
    if error.validator == "anyOf":  # the only anyOf: a collection's name-or-external_id
        return ["a collection needs a 'name' or an 'external_id'"]
    if error.validator == "enum" and error.path and error.path[-1] == "type":
        known = ", ".join(map(str, error.validator_value))
        return [f"unknown source type {error.instance!r} (known: {known})"]
    if error.validator == "pattern":
        return [f"{error.instance!r} is not an http:// or https:// URL"]
    return [error.message]


def _unknown_keys(instance: dict, schema: dict) -> str:
    """Our schemas list every key a mapping takes under ``properties`` (no patternProperties)."""
    extras = sorted((key for key in instance if key not in schema.get("properties", {})), key=str)
    verb = "was" if len(extras) == 1 else "were"
    return f"unknown key ({', '.join(map(repr, extras))} {verb} unexpected)"


def _missing(instance: dict, required: list[str]) -> list[str]:
    return [name for name in required if name not in instance]


def _unique(items: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _entries(data: Any, key: str) -> list[tuple[int, dict]]:
    """The mappings listed under ``key``, with their index.  The semantic checks run on data
    the schema may have refused, so whatever is not the expected shape is skipped, not trusted."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _text(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _path_mappers(registry: Registry) -> Callable[[str], bool | None]:
    """Whether a source type maps upstream paths to local ones (the importer's capability;
    None: no such type is loaded, which the schema reports already)."""

    def maps_paths(type_id: str) -> bool | None:
        if not registry.available(type_id):
            return None
        return registry.get(type_id).uses_path_mappings

    return maps_paths


def semantic_problems(
    doc: LoadedDocument, data, maps_paths: Callable[[str], bool | None] = lambda _t: None
) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    names: dict[str, int] = {}
    external_ids: dict[str, int] = {}
    for i, source in _entries(data, "sources"):
        name = _text(source, "name")
        if name is not None:
            folded = name.casefold()
            if folded in names:
                problems.append(
                    doc.diagnostic(
                        f"duplicate source name '{name}' (also at sources[{names[folded]}])",
                        ("sources", i, "name"),
                    )
                )
            names.setdefault(folded, i)
        external_id = _text(source, "external_id")
        if external_id is not None:
            if external_id in external_ids:
                problems.append(
                    doc.diagnostic("duplicate source external_id", ("sources", i, "external_id"))
                )
            external_ids.setdefault(external_id, i)
        problems += _collection_problems(doc, source, ("sources", i), maps_paths)
    return problems


def _collection_problems(
    doc: LoadedDocument, source: dict, at: tuple, maps_paths: Callable[[str], bool | None]
) -> list[Diagnostic]:
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for j, coll in _entries(source, "collections"):
        here = at + ("collections", j)
        key = _collection_key(coll)
        if key in seen:
            problems.append(
                doc.diagnostic(
                    f"collection declared twice (also at collections[{seen[key]}])", here
                )
            )
        if key is not None:
            seen.setdefault(key, j)
        problems += _mapping_problems(doc, source, coll, here, maps_paths)
    return problems


def _collection_key(coll: dict) -> tuple[str, str] | None:
    if "external_id" in coll:
        external_id = _text(coll, "external_id")
        return None if external_id is None else ("external_id", external_id)
    name = _text(coll, "name")
    return None if name is None else ("name", name.casefold())


def _mapping_problems(
    doc: LoadedDocument,
    source: dict,
    coll: dict,
    here: tuple,
    maps_paths: Callable[[str], bool | None],
) -> list:
    mappings = coll.get("path_mappings")
    if not isinstance(mappings, list):
        return []
    kind = _text(source, "type")
    if kind is not None and mappings and maps_paths(kind) is False:
        return [
            doc.diagnostic(
                f"path_mappings apply only to sources whose type maps upstream paths to local "
                f"ones, not '{kind}'",
                here + ("path_mappings",),
            )
        ]
    problems, specs = [], []
    for k, m in _entries(coll, "path_mappings"):
        upstream_path, local_path = _text(m, "plex_path"), _text(m, "local_path")
        if local_path is not None and not os.path.isabs(local_path):
            problems.append(
                doc.diagnostic(
                    f"local_path '{local_path}' is not an absolute path",
                    here + ("path_mappings", k, "local_path"),
                )
            )
        if upstream_path is not None and local_path is not None:
            specs.append(PathMappingSpec(upstream_path, local_path))
    for message in pathmap.find_conflicts(specs):
        problems.append(doc.diagnostic(message, here + ("path_mappings",)))
    return problems


def exclude_problems(doc: LoadedDocument, data, registry: Registry) -> list[Diagnostic]:
    """Every ``exclude:`` pattern git would not read as meant (a ``#`` comment, a blank, a
    bad escape), at its own line; and a collection's ``exclude:`` on a source type whose
    config takes none."""
    problems = []
    for i, source in _entries(data, "sources"):
        at = ("sources", i)
        problems += _pattern_problems(doc, source.get("config"), at + ("config",))
        takes = _takes_exclude(registry, _text(source, "type"))
        for j, coll in _entries(source, "collections"):
            here = at + ("collections", j)
            if "exclude" in coll and takes is False:
                problems.append(
                    doc.diagnostic(
                        f"exclude applies to sources whose config takes exclude, "
                        f"not '{source.get('type')}'",
                        here + ("exclude",),
                    )
                )
            problems += _pattern_problems(doc, coll, here)
    return problems


def _takes_exclude(registry: Registry, type_id: str | None) -> bool | None:
    """Whether the type's config takes ``exclude`` patterns (None: unknown type, which the
    schema reports)."""
    try:
        return any(p.name == "exclude" for p in registry.get(type_id or "").param_spec())
    except RetrovueError:
        return None


def _pattern_problems(doc: LoadedDocument, owner: Any, at: tuple) -> list[Diagnostic]:
    patterns = owner.get("exclude") if isinstance(owner, dict) else None
    if not isinstance(patterns, list):
        return []
    return [
        doc.diagnostic(f"exclude pattern: {problem}", at + ("exclude", k))
        for k, text in enumerate(patterns)
        if isinstance(text, str) and (problem := pattern_problem(text)) is not None
    ]


def _with_collection_excludes(config: dict, collections: list) -> dict:
    """The collections' own ``exclude:`` lists, kept in the source's config (as
    ``COLLECTION_EXCLUDE``, by the name or external_id they are declared by), so each ingest,
    imperative ones too, walks with them."""
    own = {
        c.get("external_id") or c["name"]: list(c["exclude"])
        for c in collections
        if c.get("exclude")
    }
    return {**config, COLLECTION_EXCLUDE: own} if own else config


def _enricher_lists(data: Any) -> list[tuple[tuple, list]]:
    """Every ``enrichers:`` list of the file (a source's, a collection's), with its path."""
    lists = []
    for i, source in _entries(data, "sources"):
        at = ("sources", i)
        if isinstance(source.get("enrichers"), list):
            lists.append((at + ("enrichers",), source["enrichers"]))
        for j, coll in _entries(source, "collections"):
            if isinstance(coll.get("enrichers"), list):
                lists.append((at + ("collections", j, "enrichers"), coll["enrichers"]))
    return lists


def enricher_problems(
    doc: LoadedDocument, data, load: EnricherLoader | None = None
) -> list[Diagnostic]:
    """Unknown or unavailable types, bad params and a type listed twice in one list, checked
    like importers' (against the loaded registry, plugins included).  The schema has checked
    the shape (a string, or a mapping with a string ``type``, an integer ``priority``)."""
    lists = [(at, items) for at, items in _enricher_lists(data) if items]
    if not lists:
        return []
    if load is None:
        from retrovue.enrichers.registry import load_registry as load
    registry = load()
    problems = []
    for at, items in lists:
        seen: dict[str, int] = {}
        for k, item in enumerate(items):
            here = at + (k,)
            type_id = item if isinstance(item, str) else _text(item, "type")
            if not type_id:
                continue  # the schema reports it
            where = here if isinstance(item, str) else here + ("type",)
            if type_id in seen:
                problems.append(
                    doc.diagnostic(
                        f"enricher '{type_id}' is listed twice (also at enrichers[{seen[type_id]}])",
                        where,
                    )
                )
                continue
            seen[type_id] = k
            params = item.get("params") if isinstance(item, dict) else None
            problem = _enricher_problem(
                registry, type_id, params if isinstance(params, dict) else {}
            )
            if problem is not None:
                message, on_params = problem
                place = here + ("params",) if on_params and isinstance(params, dict) else where
                problems.append(doc.diagnostic(message, place))
    return problems


def _enricher_problem(registry, type_id: str, params: dict) -> tuple[str, bool] | None:
    """(message, whether it is about the params) or None when ``type_id`` takes ``params``."""
    from retrovue.enrichers.base import resolve_params
    from retrovue.enrichers.errors import EnricherParamsError

    if type_id not in registry.enrichers and type_id not in registry.broken:
        known = ", ".join(registry.types()) or "none"
        return f"unknown enricher type '{type_id}' (known: {known})", False
    reason = registry.unavailable_reason(type_id)
    if reason is not None:
        return f"enricher type '{type_id}' is not available: {reason}", False
    try:
        resolve_params(registry.enrichers[type_id].cls.param_spec(), params)
    except EnricherParamsError as exc:
        return f"enricher '{type_id}': {exc.message} ({exc.hint})", True
    except Exception as exc:  # noqa: BLE001 - a plugin's param_spec() must not crash validate
        return f"enricher '{type_id}': param_spec() failed: {type(exc).__name__}: {exc}", False
    return None


def enricher_specs(items: list | None) -> tuple[EnricherSpec, ...] | None:
    """A validated ``enrichers:`` list as specs; None when the key is absent (unmanaged)."""
    if items is None:
        return None
    return tuple(
        EnricherSpec(item)
        if isinstance(item, str)
        else EnricherSpec(
            item["type"], int(item.get("priority") or 0), dict(item.get("params") or {})
        )
        for item in items
    )


def _absolute_paths(config: dict, specs, base_dir: str) -> dict:
    """Relative ``path`` parameters are relative to the config file, so a committed retrovue.yaml
    means the same thing from any working directory; they are stored absolute."""
    for spec in specs:
        if spec.name in config:
            config[spec.name] = rule_of(spec.kind).in_file(config[spec.name], base_dir)
    return config


def secret_warnings(doc: LoadedDocument, at: tuple, sensitive: frozenset[str]) -> list[Diagnostic]:
    """A secret the file gives in clear is valid, but it is stored in clear in the database too
    (only a ``${VAR}`` reference is stored as the reference): say so, without failing."""
    raw_config = _raw_at(doc.data, at + ("config",))
    warnings = []
    for key in sorted(sensitive):
        message = _clear_secret(raw_config.get(key))
        if message:
            warnings.append(doc.diagnostic(f"{key}: {message}", at + ("config", key)))
    return warnings


def _clear_secret(value: Any) -> str | None:
    reference = whole_reference(value)
    if reference is not None:
        if reference.group(2):
            return "the default of this reference is a secret written in clear in the file"
        return None
    if value is None:
        return None
    if has_reference(value):
        return (
            "only a value that is one ${VAR} and nothing else is kept out of the database; "
            "this one is stored there in clear"
        )
    return (
        "a secret written in clear: it is stored in clear in the database too; "
        "write a ${VAR} reference and set the variable in the environment"
    )


def _raw_at(data: Any, path: tuple) -> dict:
    for part in path:
        data = data[part]
    return data if isinstance(data, dict) else {}


def _desired_state(
    path: str, raw: bytes, doc: LoadedDocument, data: dict, registry: Registry
) -> DesiredState:
    sources = []
    warnings: list[Diagnostic] = []
    for i, s in enumerate(data.get("sources") or []):
        importer = registry.get(s["type"])
        sensitive = frozenset(importer.sensitive_params())
        config = _absolute_paths(
            dict(s["config"]), importer.param_spec(), os.path.dirname(os.path.abspath(path))
        )
        config = _with_collection_excludes(config, s.get("collections") or [])
        references = references_of(_raw_at(doc.data, ("sources", i, "config")), sensitive)
        warnings += secret_warnings(doc, ("sources", i), sensitive)
        collections = tuple(
            CollectionDecl(
                name=c.get("name"),
                external_id=c.get("external_id"),
                sync=c.get("sync"),
                path_mappings=(
                    tuple(
                        PathMappingSpec(m["plex_path"], m["local_path"]) for m in c["path_mappings"]
                    )
                    if "path_mappings" in c
                    else None
                ),
                missing_threshold=c.get("missing_threshold"),
                enrichers=enricher_specs(c.get("enrichers")),
            )
            for c in s.get("collections") or []
        )
        sources.append(
            SourceDecl(
                s["name"],
                s["type"],
                s.get("external_id"),
                config,
                collections,
                sensitive,
                references,
                enricher_specs(s.get("enrichers")),
                watch=s.get("watch", "events"),
                poll_interval=seconds(s.get("poll_interval", DEFAULT_POLL_INTERVAL)),
                resync=seconds(s.get("resync", DEFAULT_RESYNC)),
            )
        )
    return DesiredState(
        file=path,
        sources=tuple(sources),
        missing_threshold=data.get("missing_threshold", DEFAULT_MISSING_THRESHOLD),
        prune=bool(data.get("prune", False)),
        config_hash="sha256:" + hashlib.sha256(raw).hexdigest(),
        warnings=tuple(warnings),
    )
