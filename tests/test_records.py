"""chalicelib/records.py: value equality, hash and repr for plain slotted records, and the frozen kind."""

from __future__ import annotations

import pytest

from chalicelib.records import FrozenRecord, ValueRecord


class Point(ValueRecord):
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


class OtherPoint(Point):
    __slots__ = ()


class Labelled(FrozenRecord):
    __slots__ = ("label", "notes")
    _compared = ("label",)

    def __init__(self, label: str, notes: list[str]) -> None:
        self._set("label", label)
        self._set("notes", notes)


def test_records_compare_hash_and_show_by_their_slots():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2)) == hash(Point(1, 2)) and len({Point(1, 2), Point(1, 2), Point(0, 0)}) == 2
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
    assert Point(1, 2) != OtherPoint(1, 2)  # another class, as a dataclass compares
    assert Point(1, 2) != (1, 2)


def test_compared_names_the_attributes_equality_and_repr_use():
    assert Labelled("a", ["x"]) == Labelled("a", ["y"])
    assert Labelled("a", []) != Labelled("b", [])
    assert repr(Labelled("a", ["x"])) == "Labelled(label='a')"


def test_a_frozen_record_refuses_changes_and_one_holding_a_list_is_unhashable():
    record = Labelled("a", [])
    with pytest.raises(AttributeError, match="immutable"):
        record.label = "b"
    with pytest.raises(AttributeError, match="immutable"):
        del record.notes
    assert record.label == "a"

    class Listed(ValueRecord):
        __slots__ = ("items",)

        def __init__(self, items: list[int]) -> None:
            self.items = items

    with pytest.raises(TypeError, match="unhashable"):
        hash(Listed([1]))
