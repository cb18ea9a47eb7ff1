"""The bridge between a rule and its stage: a job that fails before its stage starts (an
adapter whose import fails) is reported like any other failure, with the traceback in the
job's log, never as a bare traceback and an empty log."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from evsynth.runner import RuleFailed, run_adapter


def test_an_adapter_failing_on_import_is_one_paragraph_and_its_log_holds_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    script = tmp_path / "render.py"
    script.write_text("from evsynth.no_such_module import thing\n", encoding="utf-8")
    log = tmp_path / "render.log"
    job = SimpleNamespace(log=[str(log)], rule="render")
    with pytest.raises(RuleFailed) as failed:
        run_adapter(script, job)
    message = str(failed.value)
    assert message.startswith("evsynth: internal error in rule 'render' before it started:")
    assert "ModuleNotFoundError: No module named 'evsynth.no_such_module'" in message
    assert str(log) in message
    assert "Traceback" not in capsys.readouterr().err
    assert "Traceback" in log.read_text("utf-8") and "no_such_module" in log.read_text("utf-8")
