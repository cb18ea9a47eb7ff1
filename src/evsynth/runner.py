"""The bridge between a Snakemake rule and a stage function: logging and clean failure.

A script under ``scripts/`` calls :func:`run_rule` once. Whatever goes wrong, the user sees a
short message on the terminal; the traceback, if there is one, goes only to the rule's log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from evsynth.findings import InputError


class StopReview(Exception):
    """An expected stop (such as validation errors): the message is all the user needs."""


def run_rule(smk: Any, step: Callable[[], object]) -> None:
    """Route logging to the rule's log, run ``step``, and turn failures into one paragraph."""
    log_path = smk.log[0] if smk.log else None
    logging.basicConfig(
        filename=log_path, level=logging.INFO, force=True,
        format="%(levelname)s %(name)s: %(message)s",
    )
    where = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())
    logging.info("rule %s (%s) starting", smk.rule, where)
    try:
        step()
    except StopReview as exc:
        logging.error("%s", exc)
        _fail(str(exc))
    except InputError as exc:
        logging.error("%s", exc)
        lines = "\n".join(f"  - {f.one_line()}" for f in exc.findings[:5])
        _fail(f"evsynth: cannot continue ({where}):\n{lines}")
    except Exception as exc:  # noqa: BLE001 - last resort: no traceback on the terminal
        logging.exception("unexpected failure")
        _fail(f"evsynth: internal error in rule '{smk.rule}' ({where}): "
              f"{type(exc).__name__}: {exc}\nThis is a bug in evsynth, not in your data; the "
              f"details are in {log_path}. Please report it with that file.")
    logging.info("rule %s (%s) done", smk.rule, where)


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)
