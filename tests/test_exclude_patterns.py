"""``exclude:`` rules decide as git (pathspec) does, however the walk's literal prefilter cuts
the work short: a name the prefilter lets pass costs no regex, so it must never pass one that
a pattern matches."""

from __future__ import annotations

import itertools

import pytest
from pathspec import GitIgnoreSpec

from retrovue.importers.exclude import (
    DEFAULT_EXCLUDES,
    ExcludePattern,
    Exclusions,
    pattern_problem,
)

ROOT = "/volume1/video"

PATTERNS = [
    "*.part",
    "\\#recycle/",
    "[]a]x*",
    "[!a]bc.mkv",
    "x\\ y",
    "?ample*",
    "*",
    "**/deep",
    "a/**/b",
    "/top.mkv",
    "sub/*.mkv",
    "Extras/",
    "!keep.mkv",
    "*[Ss]ample.*",
    "foo[ab]bar",
    "@eaDir",
]

NAMES = [
    "a.part",
    "#recycle",
    "]x1",
    "ax",
    "bbc.mkv",
    "abc.mkv",
    "x y",
    "sample.mkv",
    "Example.mkv",
    "deep",
    "top.mkv",
    "keep.mkv",
    "x-Sample.mkv",
    "fooabar",
    "foocbar",
    "@eaDir",
    "Extras",
    "Movie (1999).mkv",
]

FOLDERS = ["", "sub/", "a/", "a/x/", "top/", "Movies/Heat (1995)/"]


def _git_says(spec: GitIgnoreSpec, rel: str) -> bool:
    return spec.check_file(rel).include is True


@pytest.mark.parametrize(
    "patterns",
    [[p] for p in PATTERNS]
    + [["*.mkv", "!keep.mkv"], ["!keep.mkv", "*.mkv"], ["?ample*", "!*.mkv", "x-*"]],
)
def test_rules_decide_as_git_does(patterns):
    spec = GitIgnoreSpec.from_lines(patterns)
    rules = Exclusions.compile([([ExcludePattern(p, p) for p in patterns], ROOT)])
    for folder, name in itertools.product(FOLDERS, NAMES):
        rel = folder + name
        path = f"{ROOT}/{rel}"
        assert (rules.file_reason(name, path) is not None) == _git_says(spec, rel), (rel, "file")
        assert (rules.folder_reason(name, path) is not None) == _git_says(spec, rel + "/"), (
            rel,
            "folder",
        )


def test_the_last_matching_pattern_gives_the_reason():
    rules = Exclusions.compile([(DEFAULT_EXCLUDES, ROOT)])
    path = f"{ROOT}/Movies/.AppleDouble"
    assert rules.folder_reason(".AppleDouble", path) == (
        "excluded by default: macOS resource forks (.AppleDouble/)"
    )
    assert rules.folder_reason(".git", path) == "excluded by default: hidden file or folder (.*)"
    assert rules.file_reason("Heat (1995).mkv", f"{ROOT}/Movies/Heat (1995).mkv") is None


def test_a_collections_anchored_pattern_is_relative_to_its_folder():
    rules = Exclusions.compile(
        [(DEFAULT_EXCLUDES, ROOT), ([ExcludePattern("/Extras/", "own")], f"{ROOT}/Movies")]
    )
    assert rules.folder_reason("Extras", f"{ROOT}/Movies/Extras") == "own"
    assert rules.folder_reason("Extras", f"{ROOT}/Movies/Heat (1995)/Extras") is None


@pytest.mark.parametrize(
    "text,problem",
    [
        ("#recycle", "is a comment in gitignore syntax"),
        ("  ", "a blank pattern matches nothing"),
        ("Movies\\", "Escape character found with no next character"),
        ("!", "not a valid gitignore pattern"),
        ("Sample ", "drops trailing spaces"),
        ("\\#recycle/", None),
        ("Sample\\ ", None),
        ("a/**/b", None),
    ],
)
def test_pattern_problems(text, problem):
    found = pattern_problem(text)
    assert (found is None) if problem is None else (problem in found)
