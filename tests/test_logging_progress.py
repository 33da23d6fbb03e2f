"""Logs on stderr (human or JSON), secrets scrubbed; progress only on a terminal (DESIGN §5, §10)."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers import fs_config, make_tree

RETROVUE = str(Path(sys.executable).parent / "retrovue")


def test_json_logs_on_stderr_and_stdout_is_only_the_result(rv, tmp_path):
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    result = rv(
        "apply",
        "-c",
        str(config),
        "--auto-approve",
        "--json",
        "--log-format",
        "json",
        db=f"sqlite:///{tmp_path}/db.sqlite",
        env={"RETROVUE_LOG_LEVEL": "info"},
    )
    assert result.code == 0
    json.loads(result.out)  # stdout: exactly one document
    events = [json.loads(line) for line in result.err.splitlines() if line.strip()]
    assert {e["event"] for e in events} >= {
        "source changes committed",
        "collection ingest committed",
    }
    assert all(e["level"] == "info" for e in events)


def test_secrets_are_scrubbed_from_log_lines():
    from retrovue.app.context import Context
    from retrovue.logs import log_settings

    app = Context()
    log_settings("json", app.scrub)
    app.register_secrets({"token": "s3cr3t-token-value"}, {"token"})
    assert app.scrub("GET /library?X-Plex-Token=s3cr3t-token-value failed") == (
        "GET /library?X-Plex-Token=***REDACTED*** failed"
    )
    assert "s3cr3t" not in app.scrub("token s3cr3t-token-value in a message")


def _apply_in(tmp_path, stdin, stderr):
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv", "b.mkv"]}), {"c": True}
    )
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "RETROVUE_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
    }
    return subprocess.run(
        [RETROVUE, "apply", "-c", str(config), "--auto-approve"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        timeout=60,
    )


def test_no_progress_output_when_stderr_is_not_a_terminal(tmp_path):
    proc = _apply_in(tmp_path, subprocess.DEVNULL, subprocess.PIPE)
    assert proc.returncode == 0
    assert proc.stderr == b""


def test_progress_line_per_collection_on_a_terminal(tmp_path):
    controller, terminal = pty.openpty()
    try:
        proc = _apply_in(tmp_path, subprocess.DEVNULL, terminal)
        os.close(terminal)
        terminal = None
        output = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert proc.returncode == 0
    assert b'collection "Library"/"c": 2 items scanned' in output


def _apply_on_a_terminal(tmp_path, answer: bytes):
    """Run apply with stdin on a pseudo-terminal, typing ``answer`` at the prompt."""
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    db = tmp_path / "db.sqlite"
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "RETROVUE_DATABASE_URL": f"sqlite:///{db}",
    }
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [RETROVUE, "apply", "-c", str(config)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.write(controller, answer)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    import sqlite3

    with sqlite3.connect(db) as conn:
        assets = conn.execute("select count(*) from assets").fetchone()[0]
    return proc.returncode, out.decode(), err.decode(), assets


def test_apply_asks_on_a_terminal_and_yes_applies(tmp_path):
    code, out, err, assets = _apply_on_a_terminal(tmp_path, b"yes\n")
    assert "Only 'yes' will be accepted" in err
    assert (code, assets) == (0, 1)
    assert "Apply complete!" in out


def test_apply_cancelled_by_any_other_answer(tmp_path):
    code, out, err, assets = _apply_on_a_terminal(tmp_path, b"y\n")
    assert (code, assets) == (0, 0)
    assert "Apply cancelled." in err
