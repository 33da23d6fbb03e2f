"""What a filesystem source leaves out: gitignore-style ``exclude:`` patterns, with defaults.

The patterns are git's own (``*``, ``**``, ``?``, ``[…]``, ``!`` to take a match back, a
trailing ``/`` for folders only, any other ``/`` anchoring the pattern to the folder it is
declared for: ``base_path`` for a source's patterns, the collection's folder for a
collection's).  pathspec parses and compiles them; this module only decides, per entry of
the walk, which pattern has the last word, and what the skip is counted as.

The walk asks once per folder and once per media file, so the common answer ("no pattern
matches") must cost next to nothing: each pattern's literal text (``@eaDir``, ``ample.``) is
found with one ``str`` method before any regular expression runs (a regex per name cost as
much as a fifth of the scan), and a folder that matches is never entered.  A match by
``**`` or ``*`` alone has no literal and is always tried with its regex.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pathspec import GitIgnoreSpec


class ExcludePatternError(ValueError):
    """A pattern git would read differently from what its author meant, or not at all."""


@dataclass(frozen=True)
class ExcludePattern:
    text: str  # as written, in gitignore syntax
    reason: str  # the skip reason what it matches is counted under


def _default(text: str, what: str) -> ExcludePattern:
    return ExcludePattern(text, f"excluded by default: {what} ({text})")


#: OS and NAS litter, and sample clips: never content.  In order: a later match gives the
#: reason, so the specific entries follow ``.*``.  ``exclude_defaults: false`` drops them all.
DEFAULT_EXCLUDES: tuple[ExcludePattern, ...] = (
    _default(".*", "hidden file or folder"),
    _default("._*", "macOS resource fork"),
    _default(".AppleDouble/", "macOS resource forks"),
    _default(".Trashes/", "macOS trash"),
    _default("@eaDir/", "Synology index and thumbnails"),
    _default("\\#recycle/", "Synology recycle bin"),
    _default("\\#snapshot/", "Synology snapshots"),
    _default("$RECYCLE.BIN/", "Windows recycle bin"),
    _default("System Volume Information/", "Windows system folder"),
    _default("lost+found/", "files recovered by fsck"),
    _default("[Ss]ample/", "sample clips"),
    _default("*-[Ss]ample.*", "sample clip"),
    _default("*- [Ss]ample.*", "sample clip"),
)


def source_patterns(texts: Sequence[str]) -> tuple[ExcludePattern, ...]:
    return tuple(ExcludePattern(t, f"excluded by exclude pattern '{t}'") for t in texts)


def collection_patterns(texts: Sequence[str]) -> tuple[ExcludePattern, ...]:
    return tuple(
        ExcludePattern(t, f"excluded by the collection's exclude pattern '{t}'") for t in texts
    )


def pattern_problem(text: str) -> str | None:
    """Why ``text`` is not a usable pattern (None: it is)."""
    try:
        _compile(text)
    except ExcludePatternError as exc:
        return str(exc)
    return None


def _compile(text: str):
    """pathspec's pattern for ``text``; a pattern that would match nothing is refused, since
    its author surely meant it to match something."""
    if not text.strip():
        raise ExcludePatternError("a blank pattern matches nothing")
    if text.startswith("#"):
        raise ExcludePatternError(
            f"'{text}' is a comment in gitignore syntax and matches nothing; "
            f"write '\\{text}' for a name that starts with #"
        )
    if text.endswith(" ") and not text.endswith("\\ "):
        raise ExcludePatternError(
            "gitignore syntax drops trailing spaces; remove them, or escape the last one with \\"
        )
    try:
        pattern = GitIgnoreSpec.from_lines([text]).patterns[0]
    except ValueError as exc:  # pathspec's GitIgnorePatternError is a ValueError
        why = exc.__cause__ or exc  # pathspec wraps the precise reason in a generic one
        raise ExcludePatternError(f"'{text}' is not a valid gitignore pattern: {why}") from None
    if pattern.include is None:
        raise ExcludePatternError(f"'{text}' matches nothing in gitignore syntax")
    return pattern


# -- literal hints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hint:
    """Text a name must hold for a pattern to match it: ``prefix`` at its start, else
    ``infix`` somewhere; neither: no literal, the regex decides."""

    prefix: str = ""
    infix: str = ""


def _literal_runs(glob: str) -> list[str] | None:
    """The literal runs of a one-segment glob, in order, with ``""`` where a wildcard or a
    ``[…]`` stands (so a leading ``""`` means no literal prefix); None when unsure."""
    runs, current, i = [], "", 0
    while i < len(glob):
        c = glob[i]
        if c == "\\" and i + 1 < len(glob):
            current, i = current + glob[i + 1], i + 2
            continue
        if c in "*?[":
            runs += [current, ""]
            current = ""
            if c == "[":
                i = _bracket_end(glob, i)
                if i < 0:
                    return None
            i += 1
            continue
        current, i = current + c, i + 1
    return runs + [current]


def _bracket_end(glob: str, start: int) -> int:
    """Index of the ``]`` closing the bracket expression at ``start`` (-1: none, or an escape
    inside it, which is left to the regex)."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":  # a ']' first is a member, not the end
        i += 1
    end = glob.find("]", i)
    return -1 if end < 0 or "\\" in glob[start:end] else end


def _hint(glob: str) -> _Hint:
    runs = _literal_runs(glob)
    if not runs:
        return _Hint()
    if runs[0]:
        return _Hint(prefix=runs[0])
    return _Hint(infix=max(runs, key=len))


# -- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern
    excludes: bool  # False: a `!` pattern, which takes a match back
    reason: str
    #: matched against the entry's name (the pattern has no '/' but a trailing one), else
    #: against its path below the folder the pattern belongs to
    by_name: bool
    folders_only: bool
    root_len: int  # characters of an absolute path before that relative path
    hint: _Hint


def _rule(pattern: ExcludePattern, root: str) -> _Rule:
    compiled = _compile(pattern.text)
    body = pattern.text[1:] if pattern.text.startswith("!") else pattern.text
    folders_only = body.endswith("/")
    body = body.rstrip("/")
    return _Rule(
        regex=compiled.regex,
        excludes=bool(compiled.include),
        reason=pattern.reason,
        by_name="/" not in body,
        folders_only=folders_only,
        root_len=len(root.rstrip("/")) + 1,
        # a path is matched by its last segment's glob: the file's or folder's own name
        hint=_hint(body.rsplit("/", 1)[-1]),
    )


@dataclass(frozen=True, slots=True)
class _Prefilter:
    """Whether any excluding rule could match a name: one ``startswith`` over every prefix
    and one ``in`` per distinct infix, so a name that matches none costs no regex at all."""

    prefixes: tuple[str, ...]
    infixes: tuple[str, ...]
    always: bool

    @classmethod
    def of(cls, rules: Sequence[_Rule]) -> _Prefilter:
        hints = [r.hint for r in rules if r.excludes]
        return cls(
            tuple(sorted({h.prefix for h in hints if h.prefix})),
            tuple(sorted({h.infix for h in hints if h.infix})),
            any(not (h.prefix or h.infix) for h in hints),
        )

    def may_match(self, name: str) -> bool:
        if self.always or name.startswith(self.prefixes):
            return True
        for infix in self.infixes:  # a loop, not any(): a generator per name costs more
            if infix in name:
                return True
        return False


@dataclass(frozen=True)
class Exclusions:
    """The compiled rules of one walk.  A ``!`` rule only takes back an earlier match, so a
    name no excluding rule could match is decided by the prefilter alone."""

    file_rules: tuple[_Rule, ...]
    folder_rules: tuple[_Rule, ...]
    file_filter: _Prefilter
    folder_filter: _Prefilter

    @classmethod
    def compile(cls, layers: Sequence[tuple[Sequence[ExcludePattern], str]]) -> Exclusions:
        """``layers``: (patterns, the folder their anchored patterns are relative to), in
        order of precedence, lowest first.  Raises ExcludePatternError."""
        rules = [_rule(p, root) for patterns, root in layers for p in patterns]
        files = tuple(r for r in rules if not r.folders_only)
        return cls(files, tuple(rules), _Prefilter.of(files), _Prefilter.of(rules))

    def file_reason(self, name: str, path: str) -> str | None:
        """Why the file ``name`` at ``path`` is left out (None: it is not)."""
        if not self.file_filter.may_match(name):
            return None
        return _decide(self.file_rules, name, path)

    def folder_reason(self, name: str, path: str) -> str | None:
        """Why the folder ``name`` at ``path`` is left out, and not entered (None: it is not)."""
        if not self.folder_filter.may_match(name):
            return None
        return _decide(self.folder_rules, name + "/", path + "/")


def _decide(rules: Sequence[_Rule], name: str, path: str) -> str | None:
    """gitignore's rule: the last pattern that matches has the last word."""
    reason = None
    for rule in rules:
        subject = name if rule.by_name else path[rule.root_len :]
        if rule.regex.match(subject):
            reason = rule.reason if rule.excludes else None
    return reason
