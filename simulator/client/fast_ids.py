"""UUID4 strings from a PRNG, for ids that correlate rather than protect (request ids, SDK invocation
ids): no os.urandom system call and no UUID object per id. Same format as `str(uuid.uuid4())`."""

from __future__ import annotations

import random

_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def random_uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128) & _CLEAR | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
