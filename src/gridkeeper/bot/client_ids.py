"""Deterministic uint32 `clientId`s: instance, slot and generation packed into 32 bits. Pure.

    bits 31..24  grid tag: chosen at random when a grid is created, avoiding the tags of every
                 order already open on the account (another bot's, or a lost store's), and kept
                 in the grid's state (older states: 8 bits of a hash of the instance name)
    bits 23..13  slot index (0..2046; 2047 is reserved for orders that close the position)
    bits 12..0   generation of that slot (wraps at 8192; one slot never has two live orders)

The same (instance, slot, generation) always gives the same id, so an intent written before a
crash names exactly the order the exchange may hold. Whether an id is ours is decided by the
store's list of issued ids, never by the tag alone: another instance's tag may collide.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

SLOT_BITS = 11
GEN_BITS = 13
MAX_SLOT = (1 << SLOT_BITS) - 2
CLOSE_SLOT = (1 << SLOT_BITS) - 1
UNOWNED_SLOT = -1  # reconcile's marker for a duplicate order no slot owns (being cancelled)


def instance_tag(instance: str) -> int:
    return hashlib.sha256(instance.encode()).digest()[0]


def make_client_id(tag: int, slot: int, generation: int) -> int:
    if not 0 <= slot <= CLOSE_SLOT:
        raise ValueError(f"slot {slot} out of range 0..{CLOSE_SLOT}")
    if not 0 <= tag <= 0xFF:
        raise ValueError(f"tag {tag} out of range 0..255")
    gen = generation % (1 << GEN_BITS)
    return (tag << (SLOT_BITS + GEN_BITS)) | (slot << GEN_BITS) | gen


def free_tag(taken_ids: Iterable[int | None], rng: random.Random | None = None) -> int:
    """A random tag no id in `taken_ids` uses (the clientIds of open and recent orders), so a
    new grid can never reuse the id of an order that is still out there."""
    used = {cid >> (SLOT_BITS + GEN_BITS) for cid in taken_ids if cid is not None}
    free = [t for t in range(256) if t not in used]
    pick = rng or random.SystemRandom()
    return pick.choice(free) if free else pick.randrange(256)


def split_client_id(client_id: int) -> tuple[int, int, int]:
    """(tag, slot, generation) of an id made by `make_client_id`."""
    gen = client_id & ((1 << GEN_BITS) - 1)
    slot = (client_id >> GEN_BITS) & ((1 << SLOT_BITS) - 1)
    return client_id >> (SLOT_BITS + GEN_BITS), slot, gen
