"""Prompt text with references filled in, split once per text (`_pieces`), is the text the reference
substitution makes: every reference resolved, or played as nothing when it does not resolve."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.connect.event import Contact
from simulator.connect.interpreter import ContactState, interpolate, resolve
from simulator.connect.jsonpath import REFERENCE as _JSONPATH


def _reference(text: str, state: ContactState) -> str:
    def one(match):
        try:
            return str(resolve(match.group(0), state))
        except KeyError:
            return ""
    return _JSONPATH.sub(one, text)


_TEXT = st.lists(st.sampled_from(["Version ", "$.External.version", "$.External.missing", "$.Attributes.name",
                                  "$.ContactId", "$.", "$$.", " of the function.", ".", "é", "$.External.n.deep",
                                  "-x", "$.Channel", "$['Channel']", "$.Attributes['name']", "$.Attributes.['name']",
                                  "$.External['n']", "['x']", "'"]), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, external=st.dictionaries(st.sampled_from(["version", "n"]), st.sampled_from(["2", 7, None]),
                                            max_size=2))
def test_prompts_are_the_reference_substitution(text, external):
    state = ContactState(Contact(contact_id="c-1", attributes={"name": "Ann"}))
    state.external = external
    for _ in range(2):  # the first call splits the text, the second reads the split
        assert interpolate(text, state) == _reference(text, state)


@settings(max_examples=200, deadline=None)
@given(channel=st.sampled_from(["VOICE", "CHAT", "TASK"]), initial=st.none() | st.just("i-1"),
       queue=st.none() | st.just({"Name": "q"}), attributes=st.dictionaries(st.sampled_from("ab"), st.just("v")))
def test_each_system_field_on_its_own_is_the_contact_datas(channel, initial, queue, attributes):
    from simulator.connect.event import SYSTEM_DATA

    contact = Contact(contact_id="c-1", channel=channel, initial_contact_id=initial, queue=queue, attributes=attributes)
    assert {name: field(contact) for name, field in SYSTEM_DATA.items()} == contact.contact_data()
