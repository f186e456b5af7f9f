"""Records compared by value without a dataclass: equality, hash and repr from their slots, written once.

The classes a function defines at its cold start are plain classes with `__slots__` and their own
`__init__` (tests/test_cold_start_classes.py keeps it so): a `@dataclass` compiles its generated methods
from source when the class is defined, a NamedTuple its `__new__`. The few records that are compared,
hashed or shown derive those methods from here instead of writing them each.
"""

from __future__ import annotations

from typing import ClassVar


class ValueRecord:
    """Equal to a record of the same class whose compared attributes are equal; hashed and shown by them.

    The compared attributes are `_compared`, or every slot when it is empty. A record holding a list or a
    dict among them is unhashable, as a dataclass holding one is.
    """

    __slots__ = ()
    _compared: ClassVar[tuple[str, ...]] = ()

    def _names(self) -> tuple[str, ...]:
        return self._compared or self.__slots__

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{type(self).__name__}({fields})"


class FrozenRecord(ValueRecord):
    """A ValueRecord whose attributes cannot change once its `__init__` has set them (with `_set`)."""

    __slots__ = ()

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {name!r}: a {type(self).__name__} is immutable")
