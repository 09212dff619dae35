"""Libraries that log every HTTP request stay quiet unless LOG_LEVEL is DEBUG."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from actors.infra.config import load_settings
from actors.infra.logs import DEFAULT_QUIET_LOGGERS, configure_logging


@pytest.fixture(autouse=True)
def restore_logging():
    """configure_logging changes process-wide state: put it back after each test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    levels = {name: logging.getLogger(name).level for name in DEFAULT_QUIET_LOGGERS}
    yield
    root.handlers, root.level = saved[0], saved[1]
    structlog.configure(**saved[2])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def logging_of(env: dict[str, str]) -> dict[str, str]:
    """configure_logging's arguments as a command gives them: the settings' logging section."""
    section = load_settings({"LOG_FORMAT": "json", **env}).logging
    return {"fmt": section.format, "level": section.level}


def rendered(capsys) -> list[dict]:
    lines = capsys.readouterr().err.splitlines()
    try:
        return [json.loads(line) for line in lines if line]
    except ValueError:
        raise AssertionError(lines) from None


def emit_requests() -> None:
    logging.getLogger("httpx").info('HTTP Request: POST http://127.0.0.1:8899 "HTTP/1.1 200 OK"')
    logging.getLogger("uvicorn.access").info('127.0.0.1:5000 - "GET /balance HTTP/1.1" 200')
    logging.getLogger("actors.workflows.health").info("balance_read")


def test_request_lines_are_not_rendered_at_info(capsys):
    configure_logging(fmt="json")
    emit_requests()
    logging.getLogger("dramatiq.cli").info("Worker process is ready for action.")
    logging.getLogger("httpx").warning("connection pool is full")
    events = [(e["logger"], e["event"]) for e in rendered(capsys)]
    assert events == [
        ("actors.workflows.health", "balance_read"),
        ("dramatiq.cli", "Worker process is ready for action."),  # lifecycle lines are kept
        ("httpx", "connection pool is full"),
    ]


def test_log_level_debug_renders_them(capsys):
    configure_logging(fmt="json")  # quieted first: DEBUG must undo it
    configure_logging(**logging_of({"LOG_LEVEL": "DEBUG"}))
    emit_requests()
    assert [e["logger"] for e in rendered(capsys)] == [
        "httpx",
        "uvicorn.access",
        "actors.workflows.health",
    ]


def test_a_level_above_warning_holds_for_libraries_too(capsys):
    configure_logging(**logging_of({"LOG_LEVEL": "error"}))
    logging.getLogger("httpx").warning("connection pool is full")
    logging.getLogger("actors.entrypoints.http.app").error("boom")
    assert [e["event"] for e in rendered(capsys)] == ["boom"]
