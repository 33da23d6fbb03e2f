"""Issue 18: a long-lived process holds no process-wide settings.  Two contexts in one process
(two requests of a server, two threads) each log with their own level, format and secrets, and
no module of retrovue rebinds a global."""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path

from retrovue.app.context import Context
from retrovue.logs import LogSettings, get_logger

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"
log = get_logger("retrovue.test")


def _context(level: int, json_lines: bool, secret: str) -> Context:
    ctx = Context()
    ctx.logging = LogSettings(level=level, json=json_lines, scrub=ctx.scrub)
    ctx.redactor.add(secret)
    return ctx


def test_two_contexts_in_one_process_log_with_their_own_settings(capsys):
    a = _context(20, True, "alpha-secret-value")
    b = _context(30, False, "bravo-secret-value")
    both = "alpha-secret-value and bravo-secret-value"
    ready = threading.Barrier(2)

    def work(ctx: Context, name: str) -> None:
        with ctx.logging.active():
            ready.wait()  # both contexts active at once
            log.info(f"{name} info", detail=both)
            ready.wait()
            log.warning(f"{name} warning", detail=both)

    threads = [
        threading.Thread(target=work, args=(a, "a")),
        threading.Thread(target=work, args=(b, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capsys.readouterr().err.splitlines()
    a_lines = [json.loads(line) for line in lines if line.startswith("{")]
    b_lines = [line for line in lines if not line.startswith("{")]
    # a: JSON, info shown, only a's own secret redacted
    assert [e["event"] for e in a_lines] == ["a info", "a warning"]
    assert all("alpha" not in e["detail"] and "bravo-secret-value" in e["detail"] for e in a_lines)
    # b: text, info dropped, only b's own secret redacted
    assert len(b_lines) == 1 and "b warning" in b_lines[0]
    assert "bravo-secret-value" not in b_lines[0] and "alpha-secret-value" in b_lines[0]


def test_a_context_made_without_settings_scrubs_with_its_own_redactor(capsys):
    ctx = Context()
    ctx.redactor.add("charlie-secret-value")
    with ctx.logging.active():
        log.warning("failed", detail="token charlie-secret-value")
    assert "charlie-secret-value" not in capsys.readouterr().err


def test_no_module_rebinds_a_global():
    offenders = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Global)
    ]
    assert offenders == []
