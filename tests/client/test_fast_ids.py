"""Ids drawn from a PRNG are well-formed UUID4s, as AWS and botocore write them."""

import random
import uuid

from simulator.client.fast_ids import random_uuid4


def test_fast_uuid4s_are_uuid4s():
    rng = random.Random(7)
    for _ in range(1000):
        text = random_uuid4(rng)
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
