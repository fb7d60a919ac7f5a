"""MongoDB-style ObjectIds, timestamps and loyalty card numbers, vectorised.

Why this matters: in the real files every id is a 24-hex ObjectId whose first 4 bytes are the
creation second, so an id "dates" the row (``5e9f41ec...`` = 2020-04-21). Ids must also be
unique across chunks generated independently, so the 8 bytes after the timestamp encode
(chunk, sequence number) injectively, disguised as the machine/process/counter bytes real
drivers write: old (2020-21) ids reuse a few machine prefixes, later ones look random.
"""

from __future__ import annotations

import binascii

import numpy as np

# machine prefixes seen in the real 2020-2021 ids (e.g. 902ad5..., 505ee9..., 4f5ee9...)
_OLD_MACHINES = np.array([[0x90, 0x2A, 0xD5], [0x50, 0x5E, 0xE9], [0x4F, 0x5E, 0xE9],
                          [0xAD, 0xB0, 0xD5], [0x53, 0x5E, 0xE9]], dtype=np.uint8)
_NEW_DRIVERS_FROM = int(np.datetime64("2021-06-01T00:00:00", "s").astype(np.int64))
ORPHAN_CHUNK = 255


def object_ids(ts_seconds: np.ndarray, seq: np.ndarray, chunk: int) -> np.ndarray:
    """24-hex ids: 4-byte big-endian timestamp + 8 bytes unique for (chunk, seq).

    ``seq`` must be unique within the chunk for one id column and below 2**32; chunk < 256.
    Returns a numpy array of str.
    """
    n = len(seq)
    # counters start at an arbitrary point per chunk, as a driver's counter would
    seq = seq.astype(np.uint64) + np.uint64((chunk * 2_654_435_761) % (1 << 24) + 0x10_0000)
    out = np.empty((n, 12), dtype=np.uint8)
    ts = ts_seconds.astype(np.uint32)
    out[:, :4] = ts.astype(">u4").view(np.uint8).reshape(n, 4)
    # a "machine" from the sequence's low bits (old style) or a pseudo-random 3 bytes (new style)
    low = (seq % np.uint64(5)).astype(np.int64)
    mix = (seq * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    new = ts.astype(np.int64) >= _NEW_DRIVERS_FROM
    m = _OLD_MACHINES[low]
    rnd = np.stack([(mix >> np.uint64(s)) & np.uint64(0xFF) for s in (0, 8, 16)], 1).astype(np.uint8)
    m[new] = rnd[new] | np.uint8(0x01)
    out[:, 4:7] = m
    # byte 7: the chunk hidden under a hash of the machine bytes; bytes 8-11: seq (32 bits)
    tag = np.uint64(chunk & 0xFF)
    h = (m[:, 0].astype(np.uint64) * np.uint64(31) + m[:, 1] * np.uint64(7) + m[:, 2]) & np.uint64(0xFF)
    out[:, 7] = (tag ^ h).astype(np.uint8)
    hi = (seq >> np.uint64(24)) & np.uint64(0xFF)
    out[:, 8] = (hi ^ ((h * np.uint64(13)) & np.uint64(0xFF))).astype(np.uint8)
    ctr = seq & np.uint64(0xFFFFFF)
    out[:, 9] = ((ctr >> np.uint64(16)) & np.uint64(0xFF)).astype(np.uint8)
    out[:, 10] = ((ctr >> np.uint64(8)) & np.uint64(0xFF)).astype(np.uint8)
    out[:, 11] = (ctr & np.uint64(0xFF)).astype(np.uint8)
    hexed = binascii.hexlify(out.tobytes())
    return np.frombuffer(hexed, dtype="S24").astype(str)


def id_seconds(ids: np.ndarray) -> np.ndarray:
    """The creation second encoded in ObjectIds (vectorised inverse of the timestamp part)."""
    raw = np.asarray(ids, dtype="S24")
    first = np.frombuffer(binascii.unhexlify(b"".join(s[:8] for s in raw)), dtype=">u4")
    return first.astype(np.int64)


def format_ts(ms: np.ndarray) -> np.ndarray:
    """ISO-8601 with Z; the fraction drops trailing zeros (``.8Z``) or vanishes (``:28Z``)."""
    base = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="s").astype(object)
    frac = ms % 1000
    f3 = np.char.zfill(frac.astype(str), 3).astype(object)
    digits = np.where(frac == 0, 0, np.where(frac % 100 == 0, 1, np.where(frac % 10 == 0, 2, 3)))
    out = np.empty(len(ms), dtype=object)
    for d in (0, 1, 2, 3):
        sel = digits == d
        if not sel.any():
            continue
        if d == 0:
            out[sel] = base[sel] + "Z"
        else:
            out[sel] = base[sel] + "." + np.array([s[:d] for s in f3[sel]], dtype=object) + "Z"
    return out


def card_numbers(join_ms: np.ndarray, user_gidx: np.ndarray, launch_ms: int) -> np.ndarray:
    """12-digit cards starting 6780: the month of issue sets the block, the user the offset.

    Distinct users always get distinct numbers while fewer than ``CARD_MONTH_SPAN`` users exist.
    """
    from sample_data.params import CARD_BASE, CARD_MONTH_SPAN
    month = np.maximum((join_ms - launch_ms) // (30 * 86_400_000), 0)
    offset = (user_gidx.astype(np.int64) * 1_299_721) % CARD_MONTH_SPAN
    return CARD_BASE + month * CARD_MONTH_SPAN + offset


def money(cents: np.ndarray) -> np.ndarray:
    """Cents -> '8.99', '5000.00', '0.00' strings."""
    cents = cents.astype(np.int64)
    whole = (cents // 100).astype(str).astype(object)
    part = np.char.zfill((cents % 100).astype(str), 2).astype(object)
    return whole + "." + part
