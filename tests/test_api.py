"""The public API: ``gridwatch.__all__`` names what the package offers, each name resolves, and
the stage subpackages export what the README and the internals document promise."""

from __future__ import annotations

import importlib

import pytest

import gridwatch

STAGES = ("ingest", "placing", "store", "supervision", "hotspots", "output")


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = list(gridwatch.__all__)
    assert names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        assert getattr(gridwatch, name) is not None, name
    assert set(names) <= set(dir(gridwatch))


@pytest.mark.parametrize("name", ["read_issues", "run_ingest", "Store", "load_config",
                                  "evaluate_as_of", "league_for_week", "monthly_review",
                                  "run_hotspots", "gi_star", "write_table", "write_layer",
                                  "export_issues", "write_open311", "place_records"])
def test_the_entry_points_are_public(name: str) -> None:
    assert name in gridwatch.__all__
    assert callable(getattr(gridwatch, name))


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_exports_its_names(stage: str) -> None:
    module = importlib.import_module(f"gridwatch.{stage}")
    assert module.__all__, stage
    for name in module.__all__:
        assert getattr(module, name) is not None, f"gridwatch.{stage}.{name}"


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gridwatch.nope  # noqa: B018
    from gridwatch import hotspots

    with pytest.raises(AttributeError):
        hotspots.nope  # noqa: B018


def test_the_supervision_context_is_public() -> None:
    from gridwatch.supervision.context import SupervisionContext, open_context

    assert gridwatch.open_context is open_context
    assert gridwatch.SupervisionContext is SupervisionContext
