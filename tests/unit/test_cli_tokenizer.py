"""pyipvsadm's popt-compatible tokenizer (host only, no kernel)."""

from __future__ import annotations

import pytest

from pyipvs.cli.ipvsadm.tokenizer import (
    MISSING_ARGUMENT,
    UNKNOWN_OPTION,
    UNWANTED_ARGUMENT,
    Popt,
    PoptError,
)


def tokens(*argv: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    p = Popt(["ipvsadm", *argv])
    out = []
    while (t := p.next_token()) is not None:
        out.append((t.switch.key, t.arg))
    rest = []
    while (a := p.next_arg()) is not None:
        rest.append(a)
    return out, rest


def _drain(p: Popt) -> None:
    while p.next_token() is not None:
        pass


def error(*argv: str) -> tuple[str, str]:
    p = Popt(["ipvsadm", *argv])
    with pytest.raises(PoptError) as ei:
        _drain(p)
    return ei.value.word, ei.value.reason


def test_clusters_and_attached_arguments() -> None:
    assert tokens("-Lnt", "10.0.0.1:81")[0] == [
        ("list", None),
        ("numeric", None),
        ("tcp-service", "10.0.0.1:81"),
    ]
    assert tokens("-t10.0.0.1:80")[0] == [("tcp-service", "10.0.0.1:80")]
    assert tokens("-t=10.0.0.1:80")[0] == [("tcp-service", "10.0.0.1:80")]
    assert tokens("-p600")[0] == [("persistent", "600")]
    assert tokens("-p=")[0] == [("persistent", "")]
    assert tokens("--tcp-service=1.2.3.4:80")[0] == [("tcp-service", "1.2.3.4:80")]
    assert tokens("--tcp-service", "1.2.3.4:80")[0] == [("tcp-service", "1.2.3.4:80")]


def test_single_dash_long_name_is_a_cluster() -> None:
    assert tokens("-list")[0] == [("list", None), ("ipip", None), ("scheduler", "t")]


def test_required_argument_takes_the_next_word_whatever_it_is() -> None:
    assert tokens("-w", "-1")[0] == [("weight", "-1")]
    assert tokens("-s", "--")[0] == [("scheduler", "--")]


def test_optional_argument_of_p() -> None:
    assert tokens("-p", "-n")[0] == [("persistent", None), ("numeric", None)]
    assert tokens("-p", "60")[0] == [("persistent", "60")]
    assert tokens("-p")[0] == [("persistent", None)]
    assert tokens("-p", "")[0] == [("persistent", "")]
    assert tokens("--persistent=")[0] == [("persistent", "")]


def test_words_are_collected_and_double_dash_ends_switches() -> None:
    assert tokens("a", "-L", "b", "--", "-n", "-")[1] == ["a", "b", "-n", "-"]
    assert tokens("-L", "-")[1] == ["-"]


def test_posix_mode_stops_at_the_first_word() -> None:
    p = Popt(["ipvsadm", "-L", "x", "-n"], posix=True)
    assert p.next_token() is not None
    assert p.next_token() is None
    assert p.next_arg() == "x"
    assert p.next_arg() == "-n"


def test_errors_quote_the_last_word_consumed() -> None:
    assert error("--foo") == ("--foo", UNKNOWN_OPTION)
    assert error("--lis") == ("--lis", UNKNOWN_OPTION)
    assert error("-Lq") == ("-Lq", UNKNOWN_OPTION)
    assert error("-A", "-t") == ("-t", MISSING_ARGUMENT)
    assert error("-Ax") == ("-Ax", MISSING_ARGUMENT)
    assert error("-L=") == ("-L=", UNWANTED_ARGUMENT)
    assert error("-Ln=") == ("-Ln=", UNWANTED_ARGUMENT)
    assert error("--numeric=x") == ("--numeric=x", UNWANTED_ARGUMENT)
    assert error("--numeric=") == ("--numeric=", UNWANTED_ARGUMENT)
    assert error("-t", "1.2.3.4", "--bogus=3") == ("--bogus=3", UNKNOWN_OPTION)


def test_token_word_is_the_last_word_consumed() -> None:
    p = Popt(["ipvsadm", "-L", "--start-daemon", "master"])
    assert p.next_token() is not None
    t = p.next_token()
    assert t is not None and t.word == "master"


def test_next_arg_mark_takes_the_next_free_word() -> None:
    out, rest = tokens("-t", "1.1.1.1:!#:+", "80", "x")
    assert out == [("tcp-service", "1.1.1.1:80")]
    assert rest == ["x"]
    # the next free word may be another switch's argument, which still takes it
    out, rest = tokens("-t", "1.1.1.1:!#:+", "-s", "rr", "80")
    assert out == [("tcp-service", "1.1.1.1:rr"), ("scheduler", "rr")]
    assert rest == ["80"]
    # no free word: the mark stays as it is
    assert tokens("-s", "a!#:+")[0] == [("scheduler", "a!#:+")]
    # one lookup per argument, reused for every mark in it
    assert tokens("-s", "!#:+!#:+", "rr")[0] == [("scheduler", "rrrr")]
