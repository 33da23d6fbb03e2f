"""The enricher contract: what every enricher type provides.

An enricher reads one ingested asset's media and returns technical facts as a JSON-serialisable
dict.  It takes plain data in (``EnrichInput``) and gives plain data out; it never touches the
database, never prints, and reports a file it cannot handle by raising ``EnrichmentError`` with a
stable code.  What is stored per asset is ``(type_id, version, change token, facts or error)``, so
bumping ``version`` is how an enricher asks for every asset to be enriched again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from retrovue.enrichers.errors import EnricherParamsError
from retrovue.importers.base import ParamSpec
from retrovue.importers.kinds import rule_of
from retrovue.model.enums import ParamKind

__all__ = ["BaseEnricher", "EnrichInput", "ParamSpec", "is_compliant", "resolve_params"]


@dataclass(frozen=True)
class EnrichInput:
    """One asset to enrich."""

    asset_id: str
    #: the local path of the media (an upstream path already mapped through the collection's mapping)
    path: str
    #: the asset's change token at ingest; a result is valid only for the token it was made for
    change_token: str | None = None
    #: media facts already known upstream (e.g. a media server listing's duration or codecs), for
    #: enrichers that can use them; plain JSON-like data
    media_info: Mapping[str, Any] = field(default_factory=dict)


class BaseEnricher(ABC):
    type_id: ClassVar[str]
    #: part of what is stored with each result; bump it when the output changes
    version: ClassVar[int | str]
    display_name: ClassVar[str]
    #: True for an enricher that is costly enough to run only where it is attached on purpose
    opt_in: ClassVar[bool] = False
    #: the per-file timeout a run uses unless it is given one
    default_timeout_s: ClassVar[float] = 60.0

    def __init__(self, params: Mapping[str, Any] | None = None):
        self.params = resolve_params(self.param_spec(), params or {})

    @classmethod
    @abstractmethod
    def param_spec(cls) -> Sequence[ParamSpec]: ...

    @abstractmethod
    def enrich(self, asset: EnrichInput) -> dict[str, Any]:
        """Facts about ``asset`` as a JSON-serialisable dict; raise EnrichmentError on failure."""

    @classmethod
    def prepare_worker(cls) -> None:
        """Called once in each worker process before the enricher is constructed there.

        For process-wide settings an enricher wants but a library must not impose on a caller's
        process (the worker is the pool's own process).  Does nothing by default.
        """
        return None

    @classmethod
    def from_media_info(cls, media_info: Mapping[str, Any]) -> dict[str, Any] | None:
        """Facts built from what the upstream listing already said, when that is enough; None
        to probe the file.  Called in the parent process, before any worker is asked."""
        return None

    @classmethod
    def hot_columns(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The ``assets`` columns (``duration_ms``, ``container``, ``video_codec``,
        ``audio_codec``, ``width``, ``height``, ``bit_rate``, ``loudness_lufs``) this enricher's
        result ``data`` fills, read from it; only those it knows.  Nothing by default."""
        return {}


REQUIRED_MEMBERS = ("type_id", "version", "display_name", "param_spec", "enrich")


def is_compliant(enricher_cls: type) -> bool:
    """Compliant: every member of the contract present, none left abstract."""
    if not isinstance(enricher_cls, type) or not issubclass(enricher_cls, BaseEnricher):
        return False
    for name in REQUIRED_MEMBERS:
        member = getattr(enricher_cls, name, None)
        if member is None or getattr(member, "__isabstractmethod__", False):
            return False
    return isinstance(enricher_cls.version, int | str) and not isinstance(
        enricher_cls.version, bool
    )


def _kind_ok(kind: ParamKind, value: Any) -> bool:
    return rule_of(kind).accepts(value)


def resolve_params(spec: Sequence[ParamSpec], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``spec``, defaults filled in; every problem in one error."""
    known = {p.name: p for p in spec}
    problems = [f"unknown parameter '{name}'" for name in sorted(set(params) - set(known))]
    resolved: dict[str, Any] = {}
    for p in spec:
        if p.name not in params or params[p.name] is None:
            if p.required:
                problems.append(f"missing required parameter '{p.name}'")
            resolved[p.name] = p.default
        elif not _kind_ok(p.kind, params[p.name]):
            problems.append(
                f"parameter '{p.name}' must be a {p.kind}, not {type(params[p.name]).__name__}"
            )
        else:
            resolved[p.name] = params[p.name]
    if problems:
        raise EnricherParamsError(
            "; ".join(problems),
            hint="parameters: " + (", ".join(f"{p.name} ({p.kind})" for p in spec) or "none"),
        )
    return resolved
