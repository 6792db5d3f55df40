"""``--config FILE`` means what it says (issue 11 item 3): typed keys, shared top-level keys, tables."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from _cli import cli_runner
from torch import nn

from lrfinder.cli import main
from lrfinder.range_test import RangeTestResult

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")

MODULE = "lrf_cli_config_mods"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a TorchScript model, a state_dict of a class taking ``hidden``, and data."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{MODULE}.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            class Net(nn.Module):
                def __init__(self, hidden=16):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 3))

                def forward(self, x):
                    return self.body(x)
            """
        )
    )
    sys.modules.pop(MODULE, None)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    torch.jit.save(torch.jit.script(net), tmp_path / "model.pt")
    x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
    np.savez(tmp_path / "train.npz", x=x.numpy(), y=x[:, :3].argmax(1).numpy())
    yield tmp_path
    sys.modules.pop(MODULE, None)


def run_with(work: Path, toml: str | bytes, *args: str, command: str = "run"):
    path = work / "c.toml"
    if isinstance(toml, bytes):
        path.write_bytes(toml)
    else:
        path.write_text(textwrap.dedent(toml))
    base = [command, "model.pt", "--data", "train.npz"] if command in ("run", "fit") else [command]
    return cli_runner().invoke(main, [*base, *args, "--config", str(path)])


BAD = {
    "data = 123": ("data = 123\n", ["'data'", "expects a string", "an integer (123)"]),
    "json = true": ("json = true\n", ["'json'", "expects a string", "a boolean (true)"]),
    "num-steps = 20.7": ("num-steps = 20.7\n", ["'num-steps'", "expects an integer", "a float (20.7)"]),
    "no-report = 'yes'": ('no-report = "yes"\n', ["'no-report'", "expects true or false"]),
    "min-lr = '1e-5'": ('min-lr = "1e-5"\n', ["'min-lr'", "expects a number"]),
    "weight-decay = [true]": ("weight-decay = [true]\n", ["'weight-decay'", "a number or an array of numbers"]),
    "opt = 3": ("opt = 3\n", ["'opt'", "KEY=VALUE"]),
    "model-args = 7": ("model-args = 7\n", ["'model-args'", "a table, an array or a JSON string"]),
    "ignored key typed too": ("output = 5\n", ["'output'", "expects a string"]),
    "mistyped table": ("[rnu]\nnum-steps = 20\n", ["unknown table [rnu]", "did you mean [run]?", "[fit]"]),
    "unknown key": ("bogus = 1\n", ["unknown key 'bogus'", "valid keys:"]),
    "internal name": ("csv-path = 'x.csv'\n", ["unknown key 'csv-path'", "did you mean 'csv'?"]),
    "fit key inside [run]": ("[run]\noutput = 'o.pt'\n", ["'output' in [run]", "only fit takes it", "top level"]),
    "unknown key inside [run]": ("[run]\nbogus = 1\n", ["unknown key 'bogus' in [run]"]),
    # A peer's name, as range_test answers end_lr=: difflib's guess by spelling was 'min-lr' for end_lr.
    "peer key end_lr": ("end_lr = 1.0\n", ["unknown key 'end_lr'", "(did you mean 'max-lr'?)"]),
    "peer key criterion": ("criterion = 'mse'\n", ["unknown key 'criterion'", "(did you mean 'loss'?)"]),
    "not UTF-8": (b"data = '\xff\xfe'\n", ["not UTF-8"]),
    "not TOML": ("x = = 1\n", ["not valid TOML (Invalid value at line 1, column 5). Fix that line:", 'data = "tra']),
    "list for one value": ("num-steps = [1, 2]\n", ["'num-steps'", "expects an integer", "an array"]),
    "betas of three": ("betas = [0.9, 0.99, 0.5]\n", ["'betas'", "two numbers in [0, 1)", "[0.9, 0.99, 0.5]"]),
    "betas not numbers": ('betas = ["0.9", "0.99"]\n', ["'betas'", "as an array [0.9, 0.999]"]),
    "betas out of range": ("betas = [2, 0.9]\n", ["'betas'", "two numbers in [0, 1)", "an array ([2, 0.9])"]),
    "betas a number": ("betas = 0.9\n", ["'betas'", "two numbers in [0, 1)", "a float (0.9)"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_is_a_usage_error_naming_the_key(work: Path, case: str):
    toml, messages = BAD[case]
    result = run_with(work, toml, "--num-steps", "20", "--no-report")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for text in messages:
        assert text in message, (text, result.output)
    assert "Traceback" not in result.output
    # User-facing option names only, never parameter names.
    for internal in ("csv_path", "json_path", "opt_settings", "opt-settings", "scheduler_opt "):
        assert internal not in message


FIT_TABLE = {
    "wrong type": ('epochs = "ten"', "Invalid value for --config: key 'epochs' in [fit] of {path} expects an integer, "
                   'but got a string ("ten")'),
    "unknown key": ("epohcs = 3", "Invalid value for --config: unknown key 'epohcs' in [fit] of {path} (did you mean "
                    "'epochs'?)"),
    "out of range": ("epochs = -3", "Invalid value for '--epochs' (set in {where}): -3 is not in the range x>=1."),
    "not a choice": ('precision = "fp8"', "Invalid value for '--precision' (set in {where}): 'fp8' is not one of"),
    # Refused by the options' own checks (their click callbacks), not by a click type: run passed over them.
    "unknown scheduler": ('scheduler = "cosin"', "Invalid value for '--scheduler' (set in {where}): unknown scheduler "
                          "'cosin'; expected one of constant,"),
    "unknown optimizer": ('optimizer = "adamm"', "Invalid value for '--optimizer' (set in {where}): Unknown optimizer "
                          "'adamm'"),
    "output of data": ('output = "o.npz"', "Invalid value for '--output' / '-o' (set in {where}): 'o.npz' ends in "
                       ".npz, the extension of data"),
    "model-args not JSON": ("model-args = '[8,'", "Invalid value for '--model-args' (set in {where}): '[8,' is not "
                            "valid JSON"),
    "empty target": ('target = ""', "Invalid value for '--target' (set in {where}): got an empty name"),
    "val-data of no data format": ('val-data = "c.toml"', "Invalid value for '--val-data' (set in {where}): "),
    "no torch device": ('device = "cdua"', "Invalid value for '--device' (set in {where}): 'cdua' is not a torch "
                        "device"),
}


@pytest.mark.parametrize("case", list(FIT_TABLE))
def test_run_refuses_a_bad_value_in_the_fit_table_as_fit_does(work: Path, case: str):
    # lrfind run passed over the [fit] table unread: a value lrfind fit refuses went unnoticed until fit ran, the
    # range test done. It is checked as fit checks it, though run still does not apply it.
    line, message = FIT_TABLE[case]
    path = work / "c.toml"
    for command in ("run", "fit"):
        toml = f"[fit]\n{line}\n" if command == "run" else f"output = 'trained.pt'\n[fit]\n{line}\n"
        result = run_with(work, toml, "--num-steps", "20", "--no-report", command=command)
        assert result.exit_code == 2, (command, result.output)
        where = f"[fit] of {path}" if command == "run" else str(path)
        expected = message.format(path=path, where=where)
        assert expected in " ".join(result.stderr.split()), (command, result.stderr)
        assert not list(work.glob("*.json")) and not (work / "trained.pt").exists()
    # A [fit] table fit takes changes nothing in run.
    result = run_with(work, "json = 'r.json'\n[fit]\nepochs = 3\nnum-steps = 99\n", "--num-steps", "20", "--no-report")
    assert result.exit_code == 0, result.output
    assert RangeTestResult.from_json(work / "r.json").settings.num_steps == 20

@pytest.mark.parametrize(
    ("table", "lines", "message"),
    [
        ("fit", "min-lr = 1.0\nmax-lr = 0.1", "expected --max-lr > --min-lr, but got --min-lr 1 --max-lr 0.1"),
        ("run", "max-lr = 1e-8", "expected --max-lr > --min-lr, but got --min-lr 1e-07 --max-lr 1e-08"),
        ("run", "min-lr = 1e-6\nmax-lr = 1e-8", "expected --max-lr > --min-lr, but got --min-lr 1e-06 --max-lr 1e-08"),
        # cosine's eta_min, not T_max: T_max, torch's name for a schedule's length, is refused as the length the
        # command sets itself (d6e1396), before the scheduler's own settings are checked.
        ("fit", 'scheduler = "step"\nscheduler-opt = {eta_min = 0.0}',
         "--scheduler step: Scheduler 'step' does not take the setting eta_min; it accepts: step_size, gamma."),
    ],
)  # fmt: skip
def test_a_tables_options_that_disagree_are_refused_by_every_command(work: Path, table: str, lines: str, message: str):
    # Each value of another command's table was checked, but not the values together: lrfind fit refused an inverted
    # band or a scheduler's settings given for another scheduler in [fit], and lrfind run ran its test over them.
    path = work / "c.toml"
    # Against the command's own defaults only the table's command refuses it (see the test below).
    commands = ("run", "fit") if "\n" in lines else (table,)
    for command in commands:
        toml = f"output = 'trained.pt'\n[{table}]\n{lines}\n"
        result = run_with(work, toml, "--num-steps", "20", "--epochs", "1", "--no-report", command=command)
        assert result.exit_code == 2, (command, result.output)
        assert message in " ".join(result.stderr.split()), (command, result.stderr)
        if command != table:
            assert f"(set in [{table}] of {path})" in result.stderr
        assert not list(work.glob("*.json")) and not (work / "trained.pt").exists()
    # The top-level band is the running command's to check, and a table that agrees passes.
    toml = "min-lr = 1.0\nmax-lr = 10.0\n[fit]\nmax-lr = 100.0\n"
    assert run_with(work, toml, "--num-steps", "20", "--no-report").exit_code != 2


def test_a_table_that_relies_on_its_commands_line_is_refused_by_that_command_alone(work: Path):
    # lrfind run checked [fit] against fit's defaults: a table written for `lrfind fit --max-lr 100` (min-lr 20,
    # over the default max-lr 10) was refused by run, though the command line it was written for makes it right.
    toml = "json = 'r.json'\n[fit]\nmin-lr = 20.0\n"
    ran = run_with(work, toml, "--num-steps", "20", "--no-report")
    assert ran.exit_code == 0, ran.output
    assert RangeTestResult.from_json(work / "r.json").settings.num_steps == 20
    # fit checks it against its command line: taken with --max-lr 100, refused without it.
    fit_args = ("-o", "trained.pt", "--epochs", "1", "--num-steps", "20", "--no-report")
    fitted = run_with(work, toml, "--max-lr", "100", *fit_args, command="fit")
    assert fitted.exit_code != 2 and "expected --max-lr > --min-lr" not in fitted.output, fitted.output
    refused = run_with(work, toml, *fit_args, command="fit")
    assert refused.exit_code == 2 and "--min-lr 20 --max-lr 10" in refused.stderr, refused.output
    # Values the file sets that disagree whatever the command line adds are still refused by every command.
    ran = run_with(work, "[fit]\nmin-lr = 20.0\nmax-lr = 10.0\n", "--num-steps", "20", "--no-report")
    assert ran.exit_code == 2 and "(set in [fit] of" in ran.stderr, ran.output


def test_a_tables_warmup_start_factor_is_taken_by_every_command(work: Path):
    # The warm-up's start is a --scheduler-opt setting of every schedule (lrfind fit trains with it): lrfind run
    # refused the [fit] table as "Scheduler 'cosine' does not take the setting(s) warmup_start_factor".
    toml = '[fit]\nscheduler = "cosine"\nwarmup-steps = 5\nscheduler-opt = {warmup_start_factor = 0.1}\n'
    result = run_with(work, toml, "--num-steps", "20", "--no-report")
    assert result.exit_code == 0, result.output
    # A setting the schedule does not take is still refused, the warm-up's start offered for a misspelt one.
    toml = '[fit]\nscheduler = "cosine"\nscheduler-opt = {warmup_start = 0.1}\n'
    result = run_with(work, toml, "--num-steps", "20", "--no-report")
    assert result.exit_code == 2 and "warmup_start_factor" in result.stderr, result.output


def test_run_leaves_a_fit_tables_missing_files_and_devices_to_fit(work: Path, monkeypatch: pytest.MonkeyPatch):
    # One file for a range test here and the training where the data and the GPU are: `lrfind run` refused
    # `[fit] val-data = "/data/val.npz"` (not on this machine) and `[fit] device = "cuda"` (no CUDA here), though
    # fit, which reads them, refuses them itself when it parses its options, before any work.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    missing = work / "elsewhere" / "val.npz"
    toml = f"json = 'r.json'\n[fit]\nval-data = '{missing}'\ndata = 'big_train.npz'\ndevice = 'cuda'\n"
    result = run_with(work, toml, "--num-steps", "20", "--no-report")
    assert result.exit_code == 0, result.output
    assert RangeTestResult.from_json(work / "r.json").settings.num_steps == 20
    # fit itself refuses each, saying it is the file's.
    for line, message in (
        (f"val-data = '{missing}'", f"Invalid value for '--val-data' (set in {work / 'c.toml'}): file '{missing}'"),
        ("device = 'cuda'", f"Invalid value for '--device' (set in {work / 'c.toml'}): 'cuda': CUDA is not available"),
    ):
        result = run_with(work, f"output = 'trained.pt'\n[fit]\n{line}\n", "--num-steps", "20", command="fit")
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.stderr.split()), result.stderr
        assert not (work / "trained.pt").exists()


def test_valid_keys_are_the_option_names(work: Path):
    result = run_with(work, "bogus = 1\n")
    listed = result.output.split("valid keys:")[1]
    for name in ("csv", "json", "opt", "scheduler-opt", "output", "val-data", "num-steps"):
        assert f" {name}," in listed or f" {name}\n" in listed
    assert "csv-path" not in listed and "opt-settings" not in listed


def test_fit_only_keys_at_top_level_are_valid_for_run(work: Path):
    toml = """\
        output = "trained.pt"
        val-data = "train.npz"
        epochs = 2
        json = "r.json"
        no-report = true
        num-steps = 15
    """
    result = run_with(work, toml)
    assert result.exit_code == 0, result.output
    assert RangeTestResult.from_json(work / "r.json").settings.num_steps == 15
    assert not (work / "trained.pt").exists()
    # Set for every command in a config file, val-data is no mistake for run: no warning.
    assert "is ignored" not in result.stderr


def test_top_level_refine_settings_for_fit_do_not_break_run(work: Path):
    # One file for both commands, --refine only in [fit]: run failed with "--training-steps and --schedule ...
    # add --refine" (exit 2), though a top-level key a command does not use is passed over in silence (and
    # chosen for run, they are warned of as ignored).
    toml = """\
        training-steps = 200
        schedule = "onecycle"
        no-report = true
        num-steps = 15
        json = "r.json"
        [fit]
        refine = true
    """
    result = run_with(work, toml)
    assert result.exit_code == 0, result.output
    assert "is ignored" not in result.stderr
    assert RangeTestResult.from_json(work / "r.json").refinement is None


def test_options_in_the_commands_table_count_as_chosen_for_it(work: Path):
    # Set in [run], a key is meant for run: the same usage error and warnings as on the command line
    # (they passed in silence, as top-level keys do).
    result = run_with(work, "no-report = true\nnum-steps = 15\n[run]\ntraining-steps = 200\n")
    assert result.exit_code == 0, result.output
    assert "warning: --training-steps is ignored" in result.stderr
    result = run_with(work, "no-report = true\nnum-steps = 15\n[run]\nval-data = 'train.npz'\n")
    assert result.exit_code == 0, result.output
    assert "warning: --val-data is ignored" in result.stderr
    result = run_with(work, f"no-report = true\nnum-steps = 15\n[run]\nmodel-class = '{MODULE}:Net'\n")
    assert result.exit_code == 0, result.output
    assert "warning: --model-class is ignored" in result.stderr
    result = run_with(work, f"no-report = true\nnum-steps = 15\nval-data = 'train.npz'\nmodel-class = '{MODULE}:Net'\n")
    assert result.exit_code == 0 and "is ignored" not in result.stderr, result.output


@pytest.mark.parametrize("where", ["top", "run"])
def test_model_args_table_is_the_json_object(work: Path, where: str):
    net = __import__(MODULE).Net(hidden=7)
    torch.save(net.state_dict(), work / "weights7.pt")
    table = "model-args = {hidden = 7}\n"
    head = f'model-class = "{MODULE}:Net"\nno-report = true\nnum-steps = 12\njson = "r.json"\n'
    toml = head + table if where == "top" else head + "[run]\n" + table
    result = cli_runner().invoke(main, ["run", "weights7.pt", "--data", "train.npz", "--config", _write(work, toml)])
    assert result.exit_code == 0, result.output
    assert json.loads((work / "r.json").read_text())["num_parameters"] == 10 * 7 + 7 + 7 * 3 + 3
    # Without the table the default hidden=16 does not fit the saved weights: the table was used.
    result = cli_runner().invoke(main, ["run", "weights7.pt", "--data", "train.npz", "--config", _write(work, head)])
    assert result.exit_code == 1 and "does not fit" in result.output


def test_model_args_array_and_json_string(work: Path):
    net = __import__(MODULE).Net(hidden=5)
    torch.save(net.state_dict(), work / "weights5.pt")
    for args in ("model-args = [5]\n", "model-args = '{\"hidden\": 5}'\n"):
        toml = f'model-class = "{MODULE}:Net"\nno-report = true\nnum-steps = 12\n' + args
        argv = ["run", "weights5.pt", "--data", "train.npz", "--config", _write(work, toml)]
        result = cli_runner().invoke(main, argv)
        assert result.exit_code == 0, (args, result.output)


def test_opt_table_becomes_optimizer_settings(work: Path):
    toml = """\
        optimizer = "adam"
        opt = {betas = [0.8, 0.9], foreach = false}
        no-report = true
        num-steps = 12
        json = "r.json"
    """
    result = run_with(work, toml)
    assert result.exit_code == 0, result.output
    name = json.loads((work / "r.json").read_text())["optimizer_name"]
    assert "betas=[0.8, 0.9]" in name and "foreach=False" in name


@pytest.mark.parametrize(
    ("toml", "args", "expected"),
    [
        ("momentum = 0.5", ["--opt", "momentum=0.8"], "momentum=0.8"),
        ("opt = {momentum = 0.7}", ["--momentum", "0.6"], "momentum=0.6"),
        ("weight-decay = 0.01", ["--opt", "weight_decay=0.2"], "weight_decay=0.2"),
        ("opt = {weight_decay = 0.2}", ["--weight-decay", "0.03"], "weight_decay=3e-02"),
    ],
)
def test_a_setting_in_the_file_gives_way_to_the_other_option_typed(
    work: Path, toml: str, args: list[str], expected: str
) -> None:
    # The command line wins: the file's --momentum lost to a typed --opt momentum=, as it should, but the file's
    # --weight-decay won over a typed --opt weight_decay=. Both typed (or both in the file) are refused.
    result = run_with(work, f"{toml}\nno-report = true\nnum-steps = 12\njson = 'r.json'\n", *args)
    assert result.exit_code == 0, result.output
    name = json.loads((work / "r.json").read_text())["optimizer_name"]
    assert expected in name and name.count(expected.split("=")[0] + "=") == 1, name
    result = run_with(work, "momentum = 0.5\nopt = {momentum = 0.7}\nno-report = true\n")
    assert result.exit_code == 2 and "--opt momentum=0.7 and --momentum 0.5 both set momentum" in result.output


@pytest.mark.parametrize("betas", ["[0.8, 0.95]", '"0.8,0.95"'])
def test_betas_as_an_array_or_a_string(work: Path, betas: str):
    """A TOML array for betas was refused: 'expects a string'."""
    toml = f"""\
        optimizer = "adam"
        betas = {betas}
        no-report = true
        num-steps = 12
        json = "r.json"
    """
    result = run_with(work, toml)
    assert result.exit_code == 0, result.output
    assert "betas=(0.8, 0.95)" in json.loads((work / "r.json").read_text())["optimizer_name"]


def test_integer_float_for_a_float_option_and_section_overrides(work: Path):
    toml = """\
        max-lr = 1
        num-steps = 30
        no-report = true
        json = "r.json"
        [run]
        num-steps = 14
        [fit]
        num-steps = 99
    """
    result = run_with(work, toml)
    assert result.exit_code == 0, result.output
    settings = RangeTestResult.from_json(work / "r.json").settings
    assert settings.num_steps == 14 and settings.max_lr == 1.0


def test_demo_ignores_the_keys_it_does_not_take(work: Path):
    toml = """\
        data = "train.npz"
        num-steps = 20
        epochs = 0
        report = "demo.svg"
    """
    result = run_with(work, toml, "-q", command="demo")
    assert result.exit_code == 0, result.output
    assert (work / "demo.svg").is_file()


def _write(work: Path, toml: str) -> str:
    path = work / "c.toml"
    path.write_text(toml)
    return str(path)


@pytest.mark.parametrize("command", ["run", "fit", "demo"])
def test_no_output_is_written_over_the_config_file(work: Path, command: str):
    # The config file is an input too: an output named after it (in the file or on the command line)
    # wrote the result over it.
    before = textwrap.dedent("""\
        num-steps = 12
        no-report = true
        json = "c.toml"
        output = "out.pt"
        [demo]
        epochs = 0
    """)
    result = run_with(work, before, command=command)
    assert result.exit_code == 2, result.output
    # (Named .toml, a JSON output is now refused by its extension first.)
    refused = ("Refusing to write over the input file c.toml", "'c.toml' ends in .toml")
    assert any(m in result.output for m in refused) and "Traceback" not in result.output
    assert (work / "c.toml").read_text() == before and not (work / "out.pt").exists()
    # A config file named without .toml is refused as an input, by name.
    (work / "settings.conf").write_text(before.replace("c.toml", "settings.conf"))
    base = [command, "model.pt", "--data", "train.npz"] if command != "demo" else [command]
    result = cli_runner().invoke(main, [*base, "--config", "settings.conf"])
    assert result.exit_code == 2 and "Refusing to write over the input file settings.conf" in result.output



def test_a_refused_value_from_the_file_is_named_as_the_files(work: Path):
    # The file's scheduler-opt, for its cosine, clashed with --scheduler step typed on the command line (which wins):
    # "Invalid value for --scheduler-opt", an option never typed, with no word of the file.
    result = run_with(work, "scheduler = 'cosine'\nscheduler-opt = {eta_min = 0.001}\n", "--scheduler", "step")
    assert result.exit_code == 2 and "Invalid value for --scheduler-opt (set in " in result.output
    assert "c.toml): --scheduler step" in result.output
    assert "does not take the setting eta_min" in result.output
    # The file's opt for the default SGD family, against --optimizer adam typed.
    result = run_with(work, "opt = {dampening = 0.5}\n", "--optimizer", "adam")
    assert result.exit_code == 2 and "Invalid value for --opt (set in " in result.output, result.output
    # Typed on the command line, the option is named as typed.
    typed = run_with(work, "", "--scheduler", "step", "--scheduler-opt", "eta_min=0.001")
    assert typed.exit_code == 2 and "Invalid value for --scheduler-opt: --scheduler step" in typed.output, typed.output


def test_a_value_click_refuses_from_the_file_is_named_as_the_files(work: Path):
    # A config used from another directory: its relative data path was refused as "Invalid value for '--data': file
    # 'train.npz' does not exist", an option never typed, without a word of the file (paths are read from the
    # current directory). A number out of range was the same.
    (work / "conf").mkdir()
    (work / "conf" / "lrfind.toml").write_text('data = "data/train.npz"\nnum-steps = 5\n')
    runner = cli_runner()
    result = runner.invoke(main, ["run", "model.pt", "--config", "conf/lrfind.toml"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--data' (set in conf/lrfind.toml): file 'data/train.npz' does not exist" in result.output
    result = runner.invoke(main, ["run", "model.pt", "--config", "conf/lrfind.toml", "--data", "train.npz"])
    assert result.exit_code == 2 and "Invalid value for '--num-steps' (set in conf/lrfind.toml)" in result.output
    # Typed on the command line (in any spelling), the option is named as typed, without the file.
    for typed in (["--data", "none.npz"], ["--data=none.npz"]):
        result = runner.invoke(main, ["run", "model.pt", "--config", "conf/lrfind.toml", *typed])
        assert result.exit_code == 2 and "Invalid value for '--data': file 'none.npz'" in result.output
    fit = ["fit", "model.pt", "--config", "conf/lrfind.toml", "--data", "train.npz", "-o", "o.pt"]
    result = runner.invoke(main, fit)
    assert result.exit_code == 2 and "'--num-steps' (set in conf/lrfind.toml)" in result.output


def _no_such_option(typed: str, *possibilities: str) -> str:
    """click's own words for an unknown option and its guesses, in the installed click's style.

    click 8.1 says "No such option: --x Did you mean --y?", click 8.2 "No such option '--x'. Did you mean '--y'?".
    """
    error = click.NoSuchOption(typed)
    error.possibilities = list(possibilities)
    return error.format_message()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        # click's guesses by spelling: '--max-lr', '--strict' or '--target' for --start-lr, refinement's
        # --training-steps for Lightning's --num-training, nothing for --early-stop-threshold.
        ("--start-lr", "--min-lr"),
        ("--end-lr", "--max-lr"),
        ("--num-training", "--num-steps"),
        ("--early-stop-threshold", "--stop-factor"),
        ("--num_iter", "--num-steps"),
        ("--criterion", "--loss"),
    ],
)
def test_a_peers_option_name_is_answered_with_lrfinders(work: Path, typed: str, meant: str):
    for command in ("run", "fit"):
        result = cli_runner().invoke(main, [command, "model.pt", "--data", "train.npz", typed, "1"])
        assert result.exit_code == 2, result.output
        assert result.output.rstrip().endswith(f"Error: {_no_such_option(typed, meant)}")
    # Any other is click's own guess, as before.
    result = cli_runner().invoke(main, ["run", "model.pt", "--data", "train.npz", "--num-step", "5"])
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: {_no_such_option('--num-step')} (") and "--num-steps" in line, line


@pytest.mark.parametrize("typed", ["-o", "--output"])
@pytest.mark.parametrize(
    ("args", "writes"),
    [
        (["run", "model.pt", "--data", "train.npz"], "--report PATH (the report image), --json PATH (the result as "
         "JSON) and --csv PATH (the curve as CSV)"),
        (["demo"], "--report PATH (the report image) and --json PATH (the result as JSON)"),
        (["report", "result.json"], "--report PATH (the report image)"),
    ],
)
def test_fits_output_option_typed_to_another_command_is_answered_with_what_it_writes(
    work: Path, typed: str, args: list[str], writes: str
):
    # click guessed --opt (the optimizer's keyword arguments) for run's --output, and nothing for -o.
    result = cli_runner().invoke(main, [*args, typed, "out.png"])
    assert result.exit_code == 2, result.output
    assert result.output.rstrip().endswith(
        f"Error: No such option '{typed}': lrfind {args[0]} writes {writes}; -o/--output is lrfind fit's, for the "
        "trained model."
    ), result.output
    assert not (work / "out.png").exists()
    # fit's own -o is untouched, and a misspelt --output is still click's guess.
    result = cli_runner().invoke(main, ["fit", "model.pt", "--data", "train.npz", "--outptu", "o.pt"])
    assert _no_such_option("--outptu", "--opt", "--output") in result.output
