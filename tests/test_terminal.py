"""Terminal conventions: colour only for a person at a terminal, -q/-v beside RETROVUE_LOG_LEVEL."""

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import fs_config, make_tree

RETROVUE = str(Path(sys.executable).parent / "retrovue")
ESC = b"\x1b["


def _env(tmp_path, **extra) -> dict:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "RETROVUE_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
    }
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def _config(tmp_path) -> str:
    root = make_tree(tmp_path / "m", {"c": ["a.mkv"]})
    return str(fs_config(tmp_path / "r.yaml", root, {"c": True}))


def _read_all(fd: int) -> bytes:
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed: everything has been read
            return output
        if not chunk:
            return output
        output += chunk


def _plan_on_a_terminal(tmp_path, *flags: str, **env) -> bytes:
    """stdout on a pseudo-terminal, as a person running ``retrovue plan`` would see it."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [RETROVUE, "plan", "-c", _config(tmp_path), *flags],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.PIPE,
            env=_env(tmp_path, **env),
            timeout=60,
        )
        os.close(terminal)
        terminal = None
        output = _read_all(controller)
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert proc.returncode in (0, 2), proc.stderr
    return output


def test_plan_lines_are_coloured_on_a_terminal(tmp_path):
    """issue 10: on a terminal a plan's `+` lines are green, as Terraform shows them."""
    output = _plan_on_a_terminal(tmp_path)
    added = [
        line for line in output.splitlines() if line.lstrip(b"\x1b[0123456789;m ").startswith(b"+")
    ]
    assert added
    assert all(line.startswith(b"\x1b[32m") for line in added)


@pytest.mark.parametrize(
    ("flags", "env"), [(("--no-color",), {}), ((), {"NO_COLOR": "1"})], ids=["flag", "env"]
)
def test_no_colour_with_no_color(tmp_path, flags, env):
    """issue 10: --no-color or NO_COLOR turns colour off even on a terminal."""
    output = _plan_on_a_terminal(tmp_path, *flags, **env)
    assert b"+ " in output
    assert ESC not in output


def test_no_colour_when_piped(tmp_path):
    """issue 10: stdout that is not a terminal never carries escape codes."""
    proc = subprocess.run(
        [RETROVUE, "plan", "-c", _config(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert b"+ " in proc.stdout
    assert ESC not in proc.stdout


def test_colorize_keys_on_the_symbol_after_indentation():
    """issue 10: `+` green, `~` yellow, `-` red, `!` bold red; other lines untouched."""
    from retrovue.render.color import colorize

    text = "  + add\n    ~ change\n- delete\n  ! warn\nPlan: 1 to add\n\n"
    lines = colorize(text).splitlines()
    assert lines[0].startswith("\x1b[32m") and lines[0].endswith("\x1b[0m")
    assert lines[1].startswith("\x1b[33m")
    assert lines[2].startswith("\x1b[31m")
    assert lines[3].startswith("\x1b[1;31m")
    assert lines[4:] == ["Plan: 1 to add", ""]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), None),
        (("-q",), "error"),
        (("-v",), "info"),
        (("-vv",), "debug"),
        (("--verbose", "--verbose"), "debug"),
    ],
)
def test_quiet_and_verbose_flags_map_to_log_levels(flags, expected):
    """issue 10: -q is errors only, -v info, -vv debug; without them RETROVUE_LOG_LEVEL rules."""
    import click

    from retrovue.cli.options import common_options, flag_level

    @click.command()
    @common_options
    def probe(console):
        return None

    # the flags parse on every command, and map to the level handed to structlog
    ctx = probe.make_context("probe", list(flags))
    assert flag_level(ctx.params["quiet"], ctx.params["verbose"]) == expected


def test_verbose_shows_info_logs(rv, tmp_path):
    """issue 10: -v shows info logs that the default (warning) level hides."""
    db = f"sqlite:///{tmp_path}/db.sqlite"
    config = _config(tmp_path)
    quiet = rv("apply", "-c", config, "--auto-approve", "--log-format", "json", db=db)
    assert "committed" not in quiet.err
    (tmp_path / "m" / "c" / "b.mkv").write_bytes(b"")
    loud = rv("apply", "-c", config, "--auto-approve", "--log-format", "json", "-v", db=db)
    assert "collection ingest committed" in loud.err


def test_progress_wording_has_plurals_rate_and_eta():
    """issue 10: "1 item" not "1 items"; a rate always, an ETA once a total is known."""
    from retrovue.render.progress import PhaseCounter

    scan = PhaseCounter("scanning", started=0.0, count=1)
    assert scan.describe("c", now=1.0) == "c: scanning 1 item · 1 items/s"
    write = PhaseCounter("writing", total=300, count=100, started=0.0)
    assert write.describe("c", now=10.0) == "c: writing 100/300 items · 10 items/s · ETA 0:20"


def test_progress_is_drawn_by_rich_on_a_terminal_and_ends_in_a_summary(tmp_path):
    """issue 10: a live line while a collection runs, then one summary line with its plural."""
    from retrovue.render.progress import progress_factory

    controller, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as stream:
            line = progress_factory(stream)("collection c")
            line()  # the first tick draws the live line
            line.start_phase("writing", 4)
            line.done()
        os.close(terminal)
        terminal = None
        output = _read_all(controller)
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert b"collection c: scanning 1 item" in output
    assert b"writing 0/4 items" in output
    assert output.rstrip().endswith(b"collection c: 1 item scanned")


def test_log_colour_follows_no_color(monkeypatch):
    """issue 10: logs on a terminal are coloured unless NO_COLOR or --no-color says otherwise."""
    from retrovue.logs import _stderr_color

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert _stderr_color(False) is True
    assert _stderr_color(True) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert _stderr_color(False) is False


def test_the_ingest_announces_scan_and_write_phases(engine, tmp_path):
    """issue 10: progress shows a scan phase (with the stored count as its total once there is
    one, so an ETA can show) and a write phase with the rows to write."""
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import fs_config, make_tree, plan_on

    base = make_tree(tmp_path / "media", {"c": ["a.mkv", "b.mkv", "c.mkv"]})
    registry = load_registry()
    desired = load_config(str(fs_config(tmp_path / "r.yaml", base, {"c": True})), registry, {})
    phases: list[tuple[str, int | None]] = []

    class Recorder:
        def __init__(self, _label):
            pass

        def __call__(self):
            pass

        def start_phase(self, name, total=None):
            phases.append((name, total))

        def done(self):
            pass

    Executor(engine, registry, progress=Recorder).execute(plan_on(engine, desired, registry))
    assert phases == [("scanning", None), ("writing", 3)]
    (base / "c" / "d.mkv").write_bytes(b"x")
    phases.clear()
    Executor(engine, registry, progress=Recorder).execute(plan_on(engine, desired, registry))
    assert phases == [("scanning", 3), ("writing", 1)]
