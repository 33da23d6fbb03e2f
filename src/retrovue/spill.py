"""A list that keeps its values in a private temporary file, so memory stays bounded.

A first ingest of a million-item collection finds a million new items, and ``apply`` keeps its
plan's listing for the executor: held as Python objects, each listed item costs ~2.5 KiB (its
metadata dicts most of it), ~2.5 GiB for a million.  A ``Spill`` holds one batch in memory and
writes each full batch to an anonymous temporary file (``tempfile.TemporaryFile``: unlinked at
once, readable by this process only, gone when it is closed or the process ends), which is why
reading it back with ``pickle`` trusts nothing it should not.

Batches are written with ``marshal`` (about twice as fast as ``pickle`` on plain tuples, dicts
and strings); a batch ``marshal`` cannot write (a UUID, a custom mapping) falls back to ``pickle``.
``encode``/``decode`` turn a value into marshal-able data and back (a NamedTuple is not).
"""

from __future__ import annotations

import marshal
import pickle
import struct
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")

#: values per batch: big enough to amortize a write, small enough to be nothing in memory
BATCH = 1000
_HEADER = struct.Struct("<cQ")  # the batch's format (b"m" marshal, b"p" pickle), its length


def _same(value: Any) -> Any:
    return value


class Spill(Generic[T]):
    """Values appended in order, read back in order (as often as needed) and counted by ``len``;
    only the batch being filled is held in memory."""

    def __init__(
        self,
        encode: Callable[[T], Any] = _same,
        decode: Callable[[Any], T] = _same,
        batch: int = BATCH,
    ):
        self._encode, self._decode, self._batch_size = encode, decode, batch
        self._batch: list[Any] = []
        self._file: IO[bytes] | None = None
        self._count = 0

    def append(self, value: T) -> None:
        self._batch.append(self._encode(value))
        self._count += 1
        if len(self._batch) >= self._batch_size:
            self._flush()

    def extend(self, values) -> None:
        for value in values:
            self.append(value)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[T]:
        decode = self._decode
        if self._file is not None:
            self._file.flush()
            end = self._file.seek(0, 2)
            position = 0
            while position < end:  # ``append`` may run between two batches: keep our place
                self._file.seek(position)
                kind, size = _HEADER.unpack(self._file.read(_HEADER.size))
                data = self._file.read(size)
                position += _HEADER.size + size
                values = marshal.loads(data) if kind == b"m" else pickle.loads(data)
                del data
                for value in values:
                    yield decode(value)
                del values
        for value in list(self._batch):
            yield decode(value)

    def close(self) -> None:
        """Drop the values and the file (``len`` stays: it is what was appended)."""
        self._batch = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        try:
            kind, data = b"m", marshal.dumps(batch)
        except ValueError:  # something marshal does not know
            kind, data = b"p", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="retrovue-spill-")
        self._file.seek(0, 2)
        self._file.write(_HEADER.pack(kind, len(data)))
        self._file.write(data)

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spill({self._count} values)"
