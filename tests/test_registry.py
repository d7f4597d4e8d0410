"""The name registry: lookups in any case, discovery only where needed, clear errors."""

import pytest

from rppgkit.errors import RppgError
from rppgkit.registry import Registry


def test_names_registered_up_front_are_found_without_discovery() -> None:
    found: list[str] = []

    def discover() -> None:
        found.append("ran")
        colours.add("blue", 2)

    colours = Registry[int]("colour", discover=discover)
    colours.add("Red", 1)
    assert colours.get(" RED ") == 1 and "red" in colours
    assert found == []  # a registered name needs no discovery
    assert colours.get("Blue") == 2 and found == ["ran"]
    assert list(colours) == ["blue", "red"] and found == ["ran"]  # discovered once


def test_listing_discovers_and_unknown_names_list_the_known_ones() -> None:
    shapes = Registry[int]("shape", discover=lambda: shapes.add("square", 4))
    shapes.add("triangle", 3)
    assert shapes.items() == [("square", 4), ("triangle", 3)]
    with pytest.raises(
        RppgError, match=r"^unknown shape 'circle'; choose one of: square, triangle$"
    ):
        shapes.get("circle")
    with pytest.raises(ValueError, match="registered twice"):
        shapes.add("Square", 5)
