"""The processes' JSON log lines go to the stdout of the moment."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from services.common.observability import configure_logging


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """The session's logging configuration back afterwards (other tests read its lines)."""
    root = logging.getLogger()
    handlers, level, config = list(root.handlers), root.level, structlog.get_config()
    yield
    root.handlers, root.level = handlers, level
    structlog.configure(**config)


def test_a_stdout_swapped_and_closed_after_configuration_is_not_written_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    borrowed, current = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", borrowed)
    configure_logging("probe")  # as an app created inside a CLI runner or a captured test
    borrowed.close()
    monkeypatch.setattr(sys, "stdout", current)
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)  # where logging reports a failed write
    logging.getLogger("probe").warning("still heard")
    assert json.loads(current.getvalue().strip().splitlines()[-1])["event"] == "still heard"
    assert "Logging error" not in errors.getvalue()
