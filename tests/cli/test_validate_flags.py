"""`validate PATH...` without any flag skips argparse (start-up time, issue 18): it must answer
exactly what argparse answers for the same arguments."""

from __future__ import annotations

import pytest

from ingressctl.cli.validate_flags import FLAGS, ValidateOptions, argument_parser, parse


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["web.yaml"],
        ["manifests/", "more/web.yaml", "a b.yml"],
        ["deploy/kustomization.yaml", "="],
    ],
)
def test_paths_only_give_what_argparse_gives(argv: list[str]) -> None:
    by_argparse = ValidateOptions(**vars(argument_parser().parse_intermixed_args(argv)))
    assert parse(argv) == by_argparse
    assert by_argparse.paths == argv


def test_every_flag_default_is_the_options_default() -> None:
    # The paths-only answer is ValidateOptions' own defaults: they must be the flags' declared ones.
    defaults = ValidateOptions()
    for flag in FLAGS:
        assert getattr(defaults, flag.field) == (flag.default if flag.kind != "many" else []), flag.field


def test_a_flag_still_goes_through_argparse() -> None:
    options = parse(["web.yaml", "--format", "JSON", "--strict"])
    assert options == ValidateOptions(paths=["web.yaml"], output_format="json", strict=True)
    assert parse(["web.yaml", "--no-such-flag"]) is None  # Typer words the usage error
