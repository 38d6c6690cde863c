"""The final read split into one file per part of the records, for parts checked in waves.

A part loads its own records of the final read. Reading them from the whole file, each part
decodes every record and keeps its own: in waves, a process does that once per part (at
10,000,000 operations, 2 s a part). So, as the history is split (:mod:`harness.verifiers.
history_split`), each process also splits a byte range of the final read (:func:`line_ranges`
ranges, at line starts): each record's line goes to its key's part (a record without a key to
part 0), with its place among the range's records. A part then reads its own lines of each
range, in order, and places them in the whole read by the records of the ranges before.

Only the key of each line is decoded here. A range with a line whose key cannot be read (a
damaged line, a file from an older writer) is not split (:func:`split_final_range` says
``None``): every part then reads the whole file, whose reader names what is wrong; a part
whose own lines are refused reads the whole file too, for the same reason.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path

import msgspec

from ackguard.harness.history_read import BLOCK_BYTES, _range_blocks
from ackguard.harness.verifiers.index import part_of

__all__ = ["final_part_files", "load_places", "offsets", "split_final_range"]

_PLACES = "q"  # array type of a part's places among a range's records


class _Keyed(msgspec.Struct, gc=False):
    """A final record's key alone: the rest of its line is skipped unread."""

    key: str | None = None


_KEYS = msgspec.json.Decoder(_Keyed)


def final_part_files(directory: Path, part: int, ranges: int) -> list[Path]:
    """Part ``part``'s files of a final read split in ``ranges`` ranges, in the read's order;
    each one's places among its range's records are beside it (``.places``)."""
    return [directory / f"final-{part}.range-{r}.jsonl" for r in range(ranges)]


def load_places(path: Path) -> array[int]:
    """The places written beside a part's file by :func:`split_final_range`."""
    places: array[int] = array(_PLACES)
    places.frombytes(path.with_suffix(".places").read_bytes())
    return places


def split_final_range(
    path: Path, count: int, directory: Path, number: int, start: int, stop: int | None
) -> int | None:
    """Range ``number`` of the final read ``path`` (bytes ``[start, stop)``, at line starts)
    split into ``count`` parts' files in ``directory`` (:func:`final_part_files`). Returns how
    many records the range holds (a blank line holds none, as the reader skips it), or
    ``None`` when a line's key cannot be read: the range is not split."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [final_part_files(directory, part, number + 1)[number] for part in range(count)]
    places: list[array[int]] = [array(_PLACES) for _ in range(count)]
    records = 0
    outputs = [name.open("wb") for name in names]
    try:
        for block, _last in _range_blocks(path, start, stop, BLOCK_BYTES):
            lines = [line for line in block.split(b"\n") if line.strip()]
            try:
                keys = _KEYS.decode_lines(block)
            except msgspec.DecodeError:  # ValidationError too: a key that is not a text
                return None
            if len(keys) != len(lines):
                return None
            kept: list[list[bytes]] = [[] for _ in range(count)]
            for line, keyed in zip(lines, keys, strict=True):
                key = keyed.key
                part = 0 if key is None else part_of(key, count)
                kept[part].append(line)
                places[part].append(records)
                records += 1
            for output, own in zip(outputs, kept, strict=True):
                if own:
                    own.append(b"")
                    output.write(b"\n".join(own))
    finally:
        for output in outputs:
            output.close()
    for name, placed in zip(names, places, strict=True):
        name.with_suffix(".places").write_bytes(placed.tobytes())
    return records


def offsets(counts: Sequence[int]) -> list[int]:
    """The place in the whole read of each range's first record, from the ranges' counts."""
    return list(accumulate(counts[:-1], initial=0))
