"""A list that keeps its values in a private temporary file past a memory budget.

A first ingest of a million-item collection finds a million new items, and ``apply`` keeps its
plan's listing for the executor: held as Python objects, an item a media server lists costs
~2.5 KiB (its metadata dicts most of it), ~2.5 GiB for a million.  A ``Spill`` holds its values as they are
until they would take more than ``MEMORY_BUDGET`` (estimated from the first batch); from then on
it writes them in batches to an anonymous temporary file (``tempfile.TemporaryFile``: unlinked
at once, readable by this process only, gone when it is closed or the process ends), which is
why reading it back with ``pickle`` trusts nothing it should not.  A small diff (the usual
re-ingest) never touches the file and pays nothing for it.

Batches are written with ``marshal`` (about twice as fast as ``pickle`` on plain tuples, dicts
and strings); a batch ``marshal`` cannot write (a UUID, a custom mapping) falls back to ``pickle``.
``encode``/``decode`` turn a value into marshal-able data and back (a NamedTuple is not).
"""

from __future__ import annotations

import marshal
import pickle
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any, Generic, TypeVar

from retrovue.errors import ScratchSpaceError

T = TypeVar("T")

#: values per written batch: big enough to amortize a write, small enough to be nothing in memory
BATCH = 1000
#: bytes of values a Spill holds in memory before it writes them out: ~13,000 media-server items,
#: ~50,000 files of a folder (so a 100,000-file first ingest writes half of them, not all)
MEMORY_BUDGET = 32 * 2**20
#: values whose size is measured to estimate what the held ones take
_SAMPLE = 100
_HEADER = struct.Struct("<cQ")  # the batch's format (b"m" marshal, b"p" pickle), its length


def _same(value: Any) -> Any:
    return value


class Spill(Generic[T]):
    """Values appended in order, read back in order (as often as needed) and counted by ``len``;
    past the memory budget, only the batch being filled is held in memory."""

    def __init__(
        self,
        encode: Callable[[T], Any] = _same,
        decode: Callable[[Any], T] = _same,
        batch: int = BATCH,
        budget: int | None = None,
    ):
        self._encode, self._decode = encode, decode
        self._batch_size = batch
        self._budget = MEMORY_BUDGET if budget is None else budget
        self._held: list[T] = []  # values not written out yet, as they were appended
        self._flush_at = batch  # when ``append`` looks at ``_held`` again
        self._file: IO[bytes] | None = None
        self._count = 0

    def append(self, value: T) -> None:
        self._held.append(value)
        self._count += 1
        if len(self._held) >= self._flush_at:
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
        yield from list(self._held)

    def close(self) -> None:
        """Drop the values and the file (``len`` stays: it is what was appended)."""
        self._held = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def _flush(self) -> None:
        if self._file is None:
            held = len(self._held)
            if held == self._batch_size:  # the first batch: how many values fit the budget?
                self._flush_at = max(self._batch_size, self._budget // _footprint(self._held))
            if held < self._flush_at:
                return
            try:
                self._file = tempfile.TemporaryFile(prefix="retrovue-spill-")
            except OSError as exc:
                raise _no_space(exc) from exc
        held, self._held = self._held, []
        self._flush_at = self._batch_size
        try:
            for start in range(0, len(held), self._batch_size):
                self._write([self._encode(v) for v in held[start : start + self._batch_size]])
        except OSError as exc:  # ENOSPC, EIO, a quota: the values are lost, so is the unit
            raise _no_space(exc) from exc

    def _write(self, batch: list[Any]) -> None:
        try:
            kind, data = b"m", marshal.dumps(batch)
        except ValueError:  # something marshal does not know
            kind, data = b"p", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        assert self._file is not None
        self._file.seek(0, 2)
        self._file.write(_HEADER.pack(kind, len(data)))
        self._file.write(data)

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spill({self._count} values)"


def _no_space(exc: OSError) -> ScratchSpaceError:
    folder = tempfile.gettempdir()
    return ScratchSpaceError(
        f"cannot write the temporary file a large listing is kept in, in {folder}: "
        f"{exc.strerror or exc}",
        hint="free space there, or point TMPDIR at a folder with room (about 0.5 KiB per "
        "listed item)",
        context={"folder": folder},
    )


def _footprint(values: list) -> int:
    """Bytes one of ``values`` takes in memory, on average over a sample (at least 1)."""
    sample = values[:: max(1, len(values) // _SAMPLE)]
    return max(1, sum(_deep_size(v) for v in sample) // len(sample))


def _deep_size(value: Any) -> int:
    size = sys.getsizeof(value)
    if isinstance(value, (tuple, list)):
        size += sum(_deep_size(v) for v in value)
    elif isinstance(value, dict):
        size += sum(_deep_size(k) + _deep_size(v) for k, v in value.items())
    return size
