"""Read YAML while remembering where every value came from.

PyYAML's composer gives nodes with marks; we build plain Python data from them ourselves so that
every error (syntax, duplicate key, schema, semantic, unset variable) can name file:line:column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from retrovue.errors import ConfigError, Diagnostic

Path = tuple  # a JSON path as a tuple of keys and indexes

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class LoadedDocument:
    file: str
    text: str
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: scalars written without quotes: only those are re-typed after interpolation
    plain: set[Path] = field(default_factory=set)

    def diagnostic(self, message: str, path: Path) -> Diagnostic:
        line, column = self.mark_for(path)
        return Diagnostic(message, self.file, line, column, json_path(path))

    def mark_for(self, path: Path) -> tuple[int | None, int | None]:
        path = tuple(path)
        while path not in self.marks and path:
            path = path[:-1]  # a missing key is reported at its parent
        return self.marks.get(path, (None, None))


def json_path(path: Path) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str, file: str) -> LoadedDocument:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(
            [Diagnostic(f"YAML syntax error: {problem}", file, line, column)]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Diagnostic(f"YAML error: {exc}", file)]) from None
    except RecursionError:  # PyYAML's composer recurses once per level
        raise ConfigError([_too_deep(text, file)]) from None
    doc = LoadedDocument(file=file, text=text, data=None)
    if root is None:
        raise ConfigError([Diagnostic("the config file is empty", file, 1, 1)])
    problems: list[Diagnostic] = []
    try:
        doc.data = _build(root, (), doc, problems, _Budget())
    except _TooLarge:
        raise ConfigError(
            [
                Diagnostic(
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(YAML aliases repeating a large or recursive anchor?)",
                    file,
                )
            ]
        ) from None
    if problems:
        raise ConfigError(problems)
    return doc


#: a real config has a few hundred values; aliases must not multiply that into millions
#: (a few hundred bytes of nested aliases otherwise expand into gigabytes)
MAX_NODES = 100_000
MAX_DEPTH = 64


class _TooLarge(Exception):
    pass


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _TooLarge


_SCALAR_LOADER = yaml.SafeLoader("")


def _key(node: yaml.Node) -> Any:
    """A mapping key as YAML types it; None (not a string, so reported) when it is not a scalar
    or is a number too long to convert."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return _scalar(node)
    except ValueError:
        return None


def _too_deep(text: str, file: str) -> Diagnostic:
    """Where the document first nests past ``MAX_DEPTH`` (the parser keeps a stack, not a
    recursion, so its events can be walked at any depth)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Diagnostic(
                    f"the document nests deeper than {MAX_DEPTH} levels", file, *_mark(event)
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return Diagnostic("the document nests too deeply to be read", file)


def _build(
    node: yaml.Node, path: Path, doc: LoadedDocument, problems: list[Diagnostic], budget: _Budget
) -> Any:
    budget.spend()
    if len(path) > MAX_DEPTH:  # a recursive alias (&a [*a]) is infinitely deep
        raise _TooLarge
    doc.marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(
                    Diagnostic("YAML merge keys (<<) are not supported", doc.file, *_mark(key_node))
                )
                continue
            key = _key(key_node)
            if not isinstance(key, str):
                problems.append(
                    Diagnostic("mapping keys must be strings", doc.file, *_mark(key_node))
                )
                continue
            if key in out:
                problems.append(
                    Diagnostic(
                        f"duplicate key '{key}'",
                        doc.file,
                        *_mark(key_node),
                        json_path(path + (key,)),
                    )
                )
                continue
            out[key] = _build(value_node, path + (key,), doc, problems, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(child, path + (i,), doc, problems, budget) for i, child in enumerate(node.value)
        ]
    if node.style is None:
        doc.plain.add(path)
    try:
        return _scalar(node)
    except ValueError:  # an integer past the interpreter's 4,300-digit conversion limit
        problems.append(
            Diagnostic("this number is too long to read", doc.file, *_mark(node), json_path(path))
        )
        return None


def _scalar(node: yaml.ScalarNode) -> Any:
    return _SCALAR_LOADER.construct_object(node, deep=True)


# --- ${VAR} interpolation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Interpolated:
    data: Any
    #: one per unset variable that has no default, at the place that uses it
    problems: list[Diagnostic]
    #: every variable the file reads -> its value in the environment (None: unset, so the
    #: file's default was used).  With the file's bytes this decides every resolved value,
    #: which is what a saved plan must find unchanged at apply time.
    variables: dict[str, str | None]


def interpolate(doc: LoadedDocument, environ: Mapping[str, str]) -> Interpolated:
    """Resolve ``${VAR}`` / ``${VAR:-default}`` (``$$`` is a literal ``$``) in every string.

    A value that is a single reference is re-typed as YAML would (``${VERIFY:-true}`` becomes a
    boolean).  Every unset variable is reported, each with the place that uses it.
    """
    problems: list[Diagnostic] = []
    variables: dict[str, str | None] = {}

    def resolve(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, path + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "$" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)

        def substitute(match: re.Match) -> str:
            if match.group(0) == "$$":
                return "$"
            variables[match.group(1)] = environ.get(match.group(1))
            found = reference_value(match, environ)
            if found is not None:
                return found
            name = match.group(1)
            problems.append(
                doc.diagnostic(
                    f"environment variable '{name}' is not set (use ${{{name}:-default}} for a default)",
                    path,
                )
            )
            return match.group(0)  # left as written, so the schema does not report it a second time

        result = _REFERENCE.sub(substitute, value)
        if whole is not None and whole.group(0) != "$$" and result and path in doc.plain:
            typed = _retyped(result)
            if isinstance(typed, (bool, int, float)):
                return typed
        return result

    return Interpolated(resolve(doc.data, ()), problems, variables)


def _retyped(value: str) -> Any:
    """A resolved value as YAML would type it; text when it is not one scalar YAML reads (a
    newline, or a number too long to convert), so the schema names the place."""
    if "\n" in value:
        return value
    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, ValueError):
        return value


def whole_reference(value: Any) -> re.Match | None:
    """The match when ``value`` is one ``${VAR}`` / ``${VAR:-default}`` and nothing else."""
    if not isinstance(value, str):
        return None
    match = _REFERENCE.fullmatch(value)
    return match if match is not None and match.group(1) else None


def has_reference(value: Any) -> bool:
    """Whether a string reads any variable (``$$`` is an escaped dollar, not a reference)."""
    return isinstance(value, str) and any(m.group(1) for m in _REFERENCE.finditer(value))


def reference_value(match: re.Match, environ: Mapping[str, str]) -> str | None:
    """What a ``${VAR}`` match stands for here: the variable, else its default, else None."""
    name, default = match.group(1), match.group(2)
    if name in environ:
        return environ[name]
    return default
