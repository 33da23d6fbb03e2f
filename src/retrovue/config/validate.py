"""retrovue.yaml → DesiredState: syntax, interpolation, schema and semantic checks in one pass.

Every problem found is reported together (a ConfigError carries them all), each with
file:line:column and its JSON path.  Nothing here touches the database or an upstream.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping

from jsonschema import Draft202012Validator

from retrovue.config.loader import LoadedDocument, interpolate, load_yaml
from retrovue.config.model import (
    DEFAULT_MISSING_THRESHOLD,
    CollectionDecl,
    DesiredState,
    SourceDecl,
)
from retrovue.config.schema import build_schema
from retrovue.errors import ConfigError, Diagnostic
from retrovue.fingerprint import digest_text
from retrovue.importers import pathmap
from retrovue.importers.base import PathMappingSpec
from retrovue.importers.registry import Registry

ENV_CONFIG = "RETROVUE_CONFIG"
#: CI validates files from pull requests: parsing must stay bounded whatever they contain
MAX_FILE_BYTES = 4 * 2**20


def config_path(option: str | None) -> str:
    return option or os.environ.get(ENV_CONFIG) or "retrovue.yaml"


def load_config(
    path: str, registry: Registry, environ: Mapping[str, str] | None = None
) -> DesiredState:
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
    data, problems = interpolate(doc, environ)
    non_finite = non_finite_numbers(doc, data)
    reported = {d.path for d in non_finite}
    problems += non_finite
    problems += [d for d in schema_problems(doc, data, registry) if d.path not in reported]
    if not problems:
        problems += semantic_problems(doc, data)
    if problems:
        raise ConfigError(sorted(problems, key=lambda d: (d.line or 0, d.column or 0)))
    return _desired_state(path, raw, data, registry)


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
    validator = Draft202012Validator(build_schema(registry))
    problems = []
    for error in validator.iter_errors(data):
        problems.append(doc.diagnostic(_message(error), tuple(error.absolute_path)))
    return _unique(problems)


def _message(error) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "anyOf":  # the only anyOf: a collection's name-or-external_id
        return "a collection needs a 'name' or an 'external_id'"
    if error.validator == "enum" and error.path and error.path[-1] == "type":
        return f"unknown source type {error.instance!r} (known: {', '.join(map(str, error.validator_value))})"
    if error.validator == "pattern":
        return f"{error.instance!r} is not an http:// or https:// URL"
    return error.message


def _unique(items: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def semantic_problems(doc: LoadedDocument, data) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    names: dict[str, int] = {}
    external_ids: dict[str, int] = {}
    for i, source in enumerate(data.get("sources") or []):
        folded = source["name"].casefold()
        if folded in names:
            problems.append(
                doc.diagnostic(
                    f"duplicate source name '{source['name']}' (also at sources[{names[folded]}])",
                    ("sources", i, "name"),
                )
            )
        names.setdefault(folded, i)
        if "external_id" in source:
            if source["external_id"] in external_ids:
                problems.append(
                    doc.diagnostic("duplicate source external_id", ("sources", i, "external_id"))
                )
            external_ids.setdefault(source["external_id"], i)
        problems += _collection_problems(doc, source, ("sources", i))
    return problems


def _collection_problems(doc: LoadedDocument, source: dict, at: tuple) -> list[Diagnostic]:
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for j, coll in enumerate(source.get("collections") or []):
        here = at + ("collections", j)
        key = (
            ("external_id", coll["external_id"])
            if "external_id" in coll
            else ("name", coll["name"].casefold())
        )
        if key in seen:
            problems.append(
                doc.diagnostic(
                    f"collection declared twice (also at collections[{seen[key]}])", here
                )
            )
        seen.setdefault(key, j)
        mappings = coll.get("path_mappings")
        if mappings is None:
            continue
        if source["type"] != "plex" and mappings:
            problems.append(
                doc.diagnostic(
                    f"path_mappings apply to plex sources, not '{source['type']}'",
                    here + ("path_mappings",),
                )
            )
            continue
        specs = []
        for k, m in enumerate(mappings):
            if not os.path.isabs(m["local_path"]):
                problems.append(
                    doc.diagnostic(
                        f"local_path '{m['local_path']}' is not an absolute path",
                        here + ("path_mappings", k, "local_path"),
                    )
                )
            specs.append(PathMappingSpec(m["plex_path"], m["local_path"]))
        for message in pathmap.find_conflicts(specs):
            problems.append(doc.diagnostic(message, here + ("path_mappings",)))
    return problems


def _absolute_paths(config: dict, specs, base_dir: str) -> dict:
    """Relative ``path`` parameters are relative to the config file, so a committed retrovue.yaml
    means the same thing from any working directory; they are stored absolute."""
    for spec in specs:
        value = config.get(spec.name)
        if spec.kind == "path" and isinstance(value, str):
            config[spec.name] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))
    return config


def _desired_state(path: str, raw: bytes, data: dict, registry: Registry) -> DesiredState:
    sources = []
    fingerprints = {}
    for s in data.get("sources") or []:
        importer = registry.get(s["type"])
        sensitive = frozenset(importer.sensitive_params())
        config = _absolute_paths(
            dict(s["config"]), importer.param_spec(), os.path.dirname(os.path.abspath(path))
        )
        for key in sorted(sensitive):
            if key in config:
                fingerprints[f"{s['name']}.{key}"] = digest_text(str(config[key]))
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
            )
            for c in s.get("collections") or []
        )
        sources.append(
            SourceDecl(s["name"], s["type"], s.get("external_id"), config, collections, sensitive)
        )
    return DesiredState(
        file=path,
        sources=tuple(sources),
        missing_threshold=data.get("missing_threshold", DEFAULT_MISSING_THRESHOLD),
        prune=bool(data.get("prune", False)),
        config_hash="sha256:" + hashlib.sha256(raw).hexdigest(),
        secret_fingerprints=fingerprints,
    )
