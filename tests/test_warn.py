"""lrfinder._warn: each distinct warning once per refine call, and rank zero's alone under data parallelism."""

from __future__ import annotations

import sys
import warnings

import pytest

from lrfinder._warn import once_per_call, process_rank, warn


def _said(call) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


def test_once_per_call_says_each_distinct_warning_once_whatever_its_numbers() -> None:
    def refine() -> None:
        with once_per_call():
            warn("Schedule 'step' with step_size=100 over its 2000 steps ends at 1.0e-19")
            with once_per_call():  # a re-sweep's range test inside the refine: the same record
                warn("Schedule 'step' with step_size=2 over its 40 steps ends at 1.0e-19")
            warn("Schedule 'step' with step_size=3 over its 60 steps ends at 2.5e-20")
            warn("another warning")
            warn("Schedule 'step' with step_size=2 over its 40 steps ends at 1.0e-19", RuntimeWarning)

    caught = _said(refine)
    assert [(str(w.message), w.category) for w in caught] == [
        ("Schedule 'step' with step_size=100 over its 2000 steps ends at 1.0e-19", UserWarning),  # the first kept
        ("another warning", UserWarning),
        ("Schedule 'step' with step_size=2 over its 40 steps ends at 1.0e-19", RuntimeWarning),
    ]
    assert all(w.filename == __file__ for w in caught)  # past lrfinder's frames, at the caller's line
    # Outside a scope nothing is held back, and a new scope starts afresh.
    assert len(_said(lambda: [warn("a 1"), warn("a 2")])) == 2
    assert len(_said(refine)) == 3


def test_the_digits_of_a_name_tell_two_warnings_apart() -> None:
    def refine() -> None:
        with once_per_call():
            for name in ("layer1.weight", "layer2.weight", "blocks.0.bias", "blocks.1.bias", "fc_2", "fc_3"):
                warn(f"{name} was changed in place during the test at lr=1.0e-03")
            warn("layer1.weight was changed in place during the test at lr=2.5e-01")  # only its number differs
            warn("fc_2 ends at 1.0e-19.")
            warn("fc_2 ends at 3.0e-20.")  # a number that ends a sentence is a number

    assert [str(w.message).split()[0] for w in _said(refine)] == [
        "layer1.weight", "layer2.weight", "blocks.0.bias", "blocks.1.bias", "fc_2", "fc_3", "fc_2"
    ]


def test_a_given_stacklevel_counts_from_the_caller() -> None:
    def site() -> None:
        warn("at the caller of site", stacklevel=2)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        site()
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_rank_zero_says_it_alone_but_a_rank_local_warning_is_said_by_its_rank(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under data parallelism every rank printed the same warning about the arguments or the shared curve."""
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert process_rank() == 0
    monkeypatch.setenv("RANK", "1")
    assert process_rank() == 0  # no launcher's WORLD_SIZE: not a rank of anything
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert process_rank() == 1
    assert _said(lambda: warn("the settings")) == []
    [local] = _said(lambda: warn("this rank's batches", every_rank=True))
    assert str(local.message) == "this rank's batches"
    monkeypatch.setenv("RANK", "0")
    assert [str(w.message) for w in _said(lambda: warn("the settings"))] == ["the settings"]
    monkeypatch.delenv("RANK")
    monkeypatch.setenv("LOCAL_RANK", "1")  # Lightning's launcher sets LOCAL_RANK and WORLD_SIZE
    assert process_rank() == 1


def test_a_warning_the_filters_make_an_error_is_raised_on_every_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``-W error`` rank zero raised lrfinder's warning and the other ranks went on without it, into the next
    collective, where they waited for rank zero, stopped, until the process group's timeout (30 minutes by default).
    Each rank now raises what rank zero raises, and says nothing more than before otherwise."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert process_rank() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="^the settings$") as raised:
            warn("the settings")
        assert raised.type is UserWarning
    # A filter on the message, the category or the module (the caller's, as Python matches it): only what it names.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", message="the sett")
        warnings.filterwarnings("error", category=RuntimeWarning)
        warnings.filterwarnings("error", message="mine", module=__name__)
        with pytest.raises(UserWarning, match="the settings"):
            warn("the settings")
        with pytest.raises(RuntimeWarning):
            warn("a runtime warning", RuntimeWarning)
        with pytest.raises(UserWarning, match="mine"):
            warn("mine")
        warnings.filterwarnings("ignore", message="the sett")  # the first filter that matches decides
        warn("the settings")
        warn("another warning")
        warn("mine", stacklevel=10_000)  # past the outermost frame: module "sys", not this one
    assert caught == []  # said on rank zero alone, as before
    monkeypatch.setenv("RANK", "0")  # and rank zero, as before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="^the settings$"):
            warn("the settings")
