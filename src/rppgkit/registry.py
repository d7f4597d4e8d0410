"""One registry behaviour for everything picked by name: estimators, methods, networks, tasks,
datasets and face detectors.

Names are looked up in any case (``POS`` is ``pos``); registering a name twice is a programming
error, caught at import; an unknown name is a user error that lists the known ones. A registry
may be filled on first use by a `discover` function (importing the packages that register
entries), so importing rppgkit stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from rppgkit.errors import RppgError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind.

    Parameters
    ----------
    kind
        What the entries are, for messages ("method", "dataset", ...).
    discover
        Called once, before the first listing or the first lookup of a name not registered
        yet, to import what registers the other entries: a name registered up front is found
        without it.
    error
        The RppgError subclass raised for an unknown name.

    Examples
    --------
    >>> colours = Registry[int]("colour")
    >>> colours.add("Red", 1)
    1
    >>> colours.get("RED")
    1
    """

    def __init__(
        self,
        kind: str,
        discover: Callable[[], object] | None = None,
        error: type[RppgError] = RppgError,
    ) -> None:
        self.kind, self.error, self._discover = kind, error, discover
        self._entries: dict[str, T] = {}

    def _filled(self) -> dict[str, T]:
        if self._discover is not None:
            discover, self._discover = self._discover, None
            discover()
        return self._entries

    def _holding(self, key: str) -> dict[str, T]:
        """The entries, discovered first only where `key` is not registered yet."""
        return self._entries if key in self._entries else self._filled()

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name` (stored lower case); returns `entry`."""
        key = name.lower()
        if not key or key != key.strip():
            raise ValueError(f"{self.kind} name {name!r} is empty or padded")
        if key in self._entries:
            raise ValueError(f"{self.kind} {key!r} is registered twice")
        self._entries[key] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:
        """The entry called `name` in any case; a one-line error naming the known ones."""
        key = name.strip().lower()
        entries = self._holding(key)
        if key not in entries:
            raise self.error(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self)}")
        return entries[key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.strip().lower()
        return key in self._holding(key)

    def __iter__(self) -> Iterator[str]:
        """The known names, sorted."""
        return iter(sorted(self._filled()))

    def items(self) -> list[tuple[str, T]]:
        """Every entry with its name, sorted by name."""
        entries = self._filled()
        return [(name, entries[name]) for name in sorted(entries)]
