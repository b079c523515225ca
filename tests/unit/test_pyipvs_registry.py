"""The `pyipvs` subcommand registry: every lazily named module and function
exists, and each subcommand builds its own arguments (host only)."""

from __future__ import annotations

import argparse

import pytest

from pyipvs.cli import pyipvs as cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_subcommand_resolves(name: str) -> None:
    setup, handler = cli._resolve(name)
    assert callable(handler)
    p = argparse.ArgumentParser()
    setup(p)  # raises on a broken setup


def test_only_the_chosen_subcommand_is_set_up() -> None:
    assert cli._subcommand(["--netns", "list", "stats", "--json"]) == "stats"
    assert cli._subcommand(["--bogus"]) is None
    args = cli._parser("stats").parse_args(["stats", "--json"])
    assert args.json is True
