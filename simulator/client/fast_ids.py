"""UUID4 strings for ids that correlate rather than protect (request ids, SDK invocation ids): no
os.urandom system call and no UUID object per id. Same format as `str(uuid.uuid4())`."""

from __future__ import annotations

import random

_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_NODE = (1 << 48) - 1  # the last group: 12 hex digits


def random_uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128) & _CLEAR | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class CountingUuid4:
    """UUID4-shaped ids that only need to be distinct (an SDK's retry correlation id): a random
    prefix drawn once, its last group counting on from a random start (2**48 ids before one repeats)."""

    def __init__(self, rng: random.Random) -> None:
        first = random_uuid4(rng)
        self.prefix, self.count = first[:24], int(first[24:], 16)

    def __call__(self) -> str:
        self.count = count = (self.count + 1) & _NODE
        return f"{self.prefix}{count:012x}"
