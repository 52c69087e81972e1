"""Shared settings and bookkeeping of the hostile-input properties (hypothesis).

Reproducible: the ``hostile`` profile is derandomized (the examples are a function of the
test alone) and keeps no example database, so CI runs the very same examples every time.
It is registered here but never loaded globally: each property applies it with
``budget(n)``, so the rest of the suite keeps its own settings. ``HOSTILE_SCALE=10``
multiplies every budget for a deeper run by hand.

Every property counts the examples it ran (``counted``); the session ends with one summary
line per property and a total, the figure ``issues show 13`` asks for; with
``HOSTILE_REPORT=path`` the counts are also written there as JSON.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

settings.register_profile(
    "hostile",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        # Fixtures here are servers and keys shared on purpose by every example.
        HealthCheck.function_scoped_fixture,
    ],
)

_SCALE = max(1, int(os.environ.get("HOSTILE_SCALE", "1") or "1"))
EXAMPLES: Counter[str] = Counter()


def budget(max_examples: int) -> settings:
    """The ``hostile`` profile with ``max_examples`` (times ``HOSTILE_SCALE``)."""
    return settings(settings.get_profile("hostile"), max_examples=max_examples * _SCALE)


def counted(test: F) -> F:
    """Count every example ``test`` runs (explicit ``@example``s and shrinking included).

    Goes under ``@given``: hypothesis reads the signature through ``__wrapped__``.
    """
    name = f"{test.__module__.rsplit('.', 1)[-1]}::{test.__name__}"

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        EXAMPLES[name] += 1
        return test(*args, **kwargs)

    return run  # type: ignore[return-value]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not EXAMPLES:
        return
    terminalreporter.section("hostile input: examples run")
    for name, count in sorted(EXAMPLES.items()):
        terminalreporter.write_line(f"{count:6d}  {name}")
    terminalreporter.write_line(
        f"hostile input: {sum(EXAMPLES.values())} examples over {len(EXAMPLES)} properties"
    )
    report = os.environ.get("HOSTILE_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as out:
            json.dump(dict(sorted(EXAMPLES.items())), out, indent=2)
