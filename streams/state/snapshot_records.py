"""Records of the compacted snapshot topic ``<app_id>.state`` (design state-engine-v2 §6).

A snapshot of partition p is written as chunks, then a manifest:

- chunk ``d/<p>/<gen>/<seq>/<n>``: msgpack ``[[cf_index, key, value | nil], ...]``, at most
  ``CHUNK_BYTES`` (512 KiB) unless one entry alone is larger (then it travels alone: the topic's
  ``max.message.bytes`` must cover the largest state value). ``cf_index`` is the column family's
  index in ``COLUMN_FAMILIES`` (persistent order); ``nil`` deletes the key.
- manifest ``m/<p>/<gen>``: the chain of links (base first, then deltas) that rebuilds the state
  of one checkpoint, with the CRC32 of every chunk, the checkpoint's input offsets and the
  engine's meta bytes. Compaction keeps the latest manifest of each generation.

Keys carry the generation (the consumer generation at assignment), so a zombie of a lower
generation never overwrites a record of a higher one; they are ASCII so ``kafka-console-consumer``
shows them. Manifest bytes are a format byte then msgpack of an ``array_like`` Struct whose
fields are only appended, as for state values.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

CHUNK_BYTES = 512 * 1024
"""Largest chunk body (design §6)."""
MANIFEST_FORMAT = 0x01
"""First byte of a manifest; an unknown one makes the manifest unusable (never guessed)."""

Record = tuple[bytes, bytes | None]
"""A record of the snapshot topic: key, value (None: a tombstone)."""
Entry = tuple[int, bytes, bytes | None]
"""(column family index, key inside the partition, value or None for a deletion)."""

_LIST_HEAD = 5
"""Bytes reserved for a chunk's outer msgpack array header (array32)."""


class Link(msgspec.Struct, array_like=True, frozen=True):
    """One snapshot of a chain: where its chunks are and what they must hash to."""

    gen: int
    seq: int
    crcs: tuple[int, ...]
    """CRC32 of each chunk body, in chunk order; their number is the chunk count."""
    size: int
    """Bytes of all its chunk bodies (the rebase rule compares deltas with the base)."""


class Manifest(msgspec.Struct, array_like=True, frozen=True):
    """The last record of a snapshot: the chain that rebuilds one checkpoint of a partition."""

    gen: int
    seq: int
    base_seq: int
    parent: tuple[int, int] | None
    """(gen, seq) of the previous link of the chain; None for a base."""
    links: tuple[Link, ...]
    """Base first, then every delta up to ``seq``; links of a restored chain keep their gen."""
    offsets: dict[str, int]
    """Next input offsets of the checkpoint (``StateStore.offsets``)."""
    extra: bytes = b""
    """The checkpoint's ``MetaRecord.extra`` bytes, carried along (empty today)."""

    @property
    def deltas(self) -> int:
        return len(self.links) - 1

    @property
    def delta_bytes(self) -> int:
        return sum(link.size for link in self.links[1:])


@dataclass(frozen=True)
class ChunkId:
    """What a chunk key names."""

    partition: int
    gen: int
    seq: int
    index: int


@dataclass(frozen=True)
class ManifestId:
    """What a manifest key names."""

    partition: int
    gen: int


def chunk_key(partition: int, gen: int, seq: int, index: int) -> bytes:
    return f"d/{partition}/{gen}/{seq}/{index}".encode()


def manifest_key(partition: int, gen: int) -> bytes:
    return f"m/{partition}/{gen}".encode()


def link_keys(partition: int, link: Link) -> list[bytes]:
    """Keys of every chunk of ``link``."""
    return [chunk_key(partition, link.gen, link.seq, n) for n in range(len(link.crcs))]


def parse_key(key: bytes) -> ChunkId | ManifestId | None:
    """What a topic key names; None for anything else (a key of another format is skipped, not
    fatal: the topic may hold records a later version writes)."""
    parts = key.split(b"/")
    if not all(part.isdigit() for part in parts[1:]):
        return None
    numbers = [int(part) for part in parts[1:]]
    if parts[0] == b"d" and len(numbers) == 4:
        return ChunkId(*numbers)
    if parts[0] == b"m" and len(numbers) == 2:
        return ManifestId(*numbers)
    return None


def encode_manifest(manifest: Manifest) -> bytes:
    return bytes([MANIFEST_FORMAT]) + msgspec.msgpack.encode(manifest)


def decode_manifest(raw: bytes) -> Manifest | None:
    """The manifest, or None when its bytes are not one this version can read (that chain is
    then incomplete, and an older one is taken)."""
    if not raw or raw[0] != MANIFEST_FORMAT:
        return None
    try:
        return msgspec.msgpack.decode(raw[1:], type=Manifest)
    except msgspec.DecodeError:
        return None


def _bin_size(size: int) -> int:
    """msgpack bytes of a bin of ``size`` bytes (header included)."""
    if size < 1 << 8:
        return 2 + size
    if size < 1 << 16:
        return 3 + size
    return 5 + size


def entry_size(entry: Entry) -> int:
    """Exact msgpack bytes of one entry: fixarray header, cf index (< 128), key, value."""
    _, key, value = entry
    return 2 + _bin_size(len(key)) + (1 if value is None else _bin_size(len(value)))


def pack_chunks(entries: Iterable[Entry], limit: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Chunk bodies holding ``entries`` in order, each at most ``limit`` bytes unless a single
    entry is larger; nothing for no entries."""
    batch: list[Entry] = []
    size = _LIST_HEAD
    for entry in entries:
        grown = entry_size(entry)
        if batch and size + grown > limit:
            yield msgspec.msgpack.encode(batch)
            batch, size = [], _LIST_HEAD
        batch.append(entry)
        size += grown
    if batch:
        yield msgspec.msgpack.encode(batch)


_CHUNK_TYPE = list[tuple[int, bytes, bytes | None]]


def unpack_chunk(body: bytes) -> list[Entry]:
    """Entries of a chunk body; raises ``msgspec.DecodeError`` for bytes that are not one."""
    return msgspec.msgpack.decode(body, type=_CHUNK_TYPE)


def crc(body: bytes) -> int:
    return zlib.crc32(body)


# -- chains in a log ---------------------------------------------------------------------------


def replaced_keys(partition: int, chain: Manifest, generation: int) -> list[bytes]:
    """Every chunk of a chain a new base replaces, and the manifests of its other generations
    (the base's own generation keeps its manifest key, which the new manifest overwrites)."""
    keys = [key for link in chain.links for key in link_keys(partition, link)]
    gens = {link.gen for link in chain.links} | {chain.gen}
    return keys + [manifest_key(partition, gen) for gen in sorted(gens - {generation})]


def compacted(records: Iterable[Record], partition: int) -> dict[bytes, bytes]:
    """The latest value of every key of ``partition`` (a tombstone removes it): what the log
    holds for a reader from the earliest offset, whatever compaction already removed. Memory is
    the partition's live snapshot records (about twice its state)."""
    latest: dict[bytes, bytes] = {}
    for key, value in records:
        named = parse_key(key)
        if not isinstance(named, ChunkId | ManifestId) or named.partition != partition:
            continue
        if value is None:
            latest.pop(key, None)
        else:
            latest[key] = value
    return latest


def select_chain(latest: dict[bytes, bytes], partition: int) -> tuple[Manifest, list[bytes]] | None:
    """The manifest of the highest generation whose chain is complete (every chunk of every
    link present with its CRC), with the chunk bodies in chain order; else the next highest;
    None when no generation has one."""
    gens = []
    for key in latest:
        named = parse_key(key)
        if isinstance(named, ManifestId):
            gens.append(named.gen)
    for gen in sorted(gens, reverse=True):
        manifest = decode_manifest(latest[manifest_key(partition, gen)])
        if manifest is None or manifest.gen != gen:
            continue
        bodies = _chain_bodies(latest, partition, manifest)
        if bodies is not None:
            return manifest, bodies
    return None


def _chain_bodies(
    latest: dict[bytes, bytes], partition: int, manifest: Manifest
) -> list[bytes] | None:
    bodies = []
    for link in manifest.links:
        for key, expected in zip(link_keys(partition, link), link.crcs, strict=True):
            body = latest.get(key)
            if body is None or crc(body) != expected:
                return None
            bodies.append(body)
    return bodies
