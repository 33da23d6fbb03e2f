"""The filesystem importer (DESIGN §9): each immediate subdirectory of ``base_path`` is a collection.

The walk uses ``os.scandir`` + ``DirEntry.stat()``, the fastest enumeration on this machine
(limits.md §2: pathlib is 2.3–4× slower).  Directory symlinks are not followed unless
``follow_symlinks`` is set, and then every directory is entered at most once (keyed by device and
inode), so a symlink loop can never hang a scan.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from urllib.parse import quote

from retrovue.errors import CollectionNotFoundError, ImporterResponseError, ImporterUnreachableError
from retrovue.importers.base import (
    BaseImporter,
    ParamSpec,
    PathMappingSpec,
    UpstreamAsset,
    UpstreamCollection,
)
from retrovue.importers.naming import parse_media_name

DEFAULT_EXTENSIONS = (
    "mkv", "mp4", "m4v", "avi", "mov", "wmv", "mpg", "mpeg", "ts", "m2ts", "webm", "flv", "ogv", "vob",
    "divx", "3gp",
)  # fmt: skip


def file_uri(path: str) -> str:
    """``file://`` URI of an absolute native path (cheaper than pathlib's ``as_uri``)."""
    return "file://" + quote(path, safe="/:@!$&'()*+,;=-._~")


class FilesystemImporter(BaseImporter):
    type_id = "filesystem"
    display_name = "Filesystem folders"

    @classmethod
    def param_spec(cls) -> Sequence[ParamSpec]:
        return (
            ParamSpec("base_path", "path", required=True, help="Folder whose subdirectories are collections"),
            ParamSpec(
                "extensions",
                "list",
                default=list(DEFAULT_EXTENSIONS),
                help="Media file extensions (case-insensitive)",
            ),
            ParamSpec("follow_symlinks", "bool", default=False, help="Follow symlinked directories"),
        )

    def __init__(self, config):
        super().__init__(config)
        self.base_path = os.path.abspath(os.path.expanduser(str(self.config["base_path"])))
        exts = self.config.get("extensions") or DEFAULT_EXTENSIONS
        self.extensions = frozenset("." + e.lower().lstrip(".") for e in exts)
        self.follow_symlinks = bool(self.config.get("follow_symlinks", False))

    # -- connection and collections --------------------------------------------------------

    def validate_connection(self) -> None:
        if not os.path.isdir(self.base_path):
            raise ImporterUnreachableError(f"base_path '{self.base_path}' does not exist or is not a directory")
        if not os.access(self.base_path, os.R_OK | os.X_OK):
            raise ImporterUnreachableError(f"base_path '{self.base_path}' is not readable")

    def list_collections(self) -> list[UpstreamCollection]:
        self.validate_connection()
        try:
            entries = sorted(os.scandir(self.base_path), key=lambda e: e.name)
        except OSError as exc:
            raise ImporterUnreachableError(f"cannot list '{self.base_path}': {exc.strerror}") from exc
        return [
            UpstreamCollection(external_id=e.name, name=e.name, locations=(e.path,), kind="folder")
            for e in entries
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=self.follow_symlinks)
        ]

    def collection_path(self, external_id: str) -> str:
        return os.path.join(self.base_path, external_id)

    def check_ingestible(
        self, collection: UpstreamCollection, path_mappings: Sequence[PathMappingSpec]
    ) -> tuple[bool, str | None]:
        path = self.collection_path(collection.external_id)
        if not os.path.isdir(path):
            return False, f"folder '{path}' does not exist"
        if not os.access(path, os.R_OK | os.X_OK):
            return False, f"folder '{path}' is not readable"
        return True, None

    # -- enumeration -------------------------------------------------------------------------

    def fetch_assets_for_collection(
        self,
        external_id: str,
        *,
        filter_title: str | None = None,
        filter_season: int | None = None,
        filter_episode: int | None = None,
    ) -> Iterator[UpstreamAsset]:
        root = self.collection_path(external_id)
        if not os.path.isdir(self.base_path):
            raise ImporterUnreachableError(f"base_path '{self.base_path}' does not exist or is not a directory")
        if not os.path.isdir(root):
            raise CollectionNotFoundError(f"collection folder '{root}' no longer exists")
        wanted_title = filter_title.casefold() if filter_title is not None else None
        for path, size, mtime_ns, parents in self._walk(root):
            stem, _ = os.path.splitext(os.path.basename(path))
            parsed = parse_media_name(stem, parents)
            if wanted_title is not None:
                shown = parsed.series_title if parsed.kind == "episode" else parsed.title
                if (shown or "").casefold() != wanted_title:
                    continue
                if filter_season is not None and parsed.season != filter_season:
                    continue
                if filter_episode is not None and parsed.episode != filter_episode:
                    continue
            yield UpstreamAsset(
                source_uri=file_uri(path),
                path=path,
                size=size,
                change_token=f"{mtime_ns}:{size}",
                kind=parsed.kind,
                title=parsed.title,
                series_title=parsed.series_title,
                season_number=parsed.season,
                episode_number=parsed.episode,
                year=parsed.year,
            )

    def _walk(self, root: str) -> Iterator[tuple[str, int, int, tuple[str, ...]]]:
        """Depth-first, name-ordered walk yielding (path, size, mtime_ns, parent folder names)."""
        seen_dirs: set[tuple[int, int]] = set()
        exts = self.extensions
        follow = self.follow_symlinks
        stack: list[tuple[str, tuple[str, ...]]] = [(root, ())]
        while stack:
            directory, parents = stack.pop()
            try:
                st = os.stat(directory)
                key = (st.st_dev, st.st_ino)
                if key in seen_dirs:
                    continue  # a loop (or a second link to the same folder): enter each once
                seen_dirs.add(key)
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except FileNotFoundError as exc:
                if directory == root:
                    raise CollectionNotFoundError(f"collection folder '{root}' no longer exists") from exc
                continue  # a subfolder removed while we walk: its files are simply not seen
            except OSError as exc:
                # An unreadable subfolder would otherwise make its files look missing.
                raise ImporterResponseError(f"cannot read folder '{directory}': {exc.strerror}") from exc
            subdirs = []
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=follow):
                        subdirs.append((entry.path, parents + (name,)))
                        continue
                    if os.path.splitext(name)[1].lower() not in exts:
                        continue
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # a dangling symlink or a file deleted mid-scan
                if not stat.S_ISREG(st.st_mode):
                    continue
                yield entry.path, st.st_size, st.st_mtime_ns, parents
            stack.extend(reversed(subdirs))
