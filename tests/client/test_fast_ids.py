"""Ids drawn from a PRNG (or counted on from one) are well-formed UUID4s, as AWS and botocore write them."""

import random
import uuid

from simulator.client.fast_ids import CountingUuid4, random_uuid4


def test_fast_uuid4s_are_uuid4s():
    rng = random.Random(7)
    for _ in range(1000):
        text = random_uuid4(rng)
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_counting_uuid4s_are_distinct_uuid4s_even_where_their_count_wraps():
    ids = CountingUuid4(random.Random(3))
    ids.count = (1 << 48) - 500  # the last group wraps within the draw
    drawn = [ids() for _ in range(1000)]
    assert len(set(drawn)) == len(drawn)
    for text in drawn:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert CountingUuid4(random.Random(4))() != CountingUuid4(random.Random(5))()  # processes differ by prefix
