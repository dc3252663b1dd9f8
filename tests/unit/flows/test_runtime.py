"""What leaves a task or flow body is redacted, whatever raised it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.runtime import redacted_errors


def test_an_error_quoting_a_customer_value_is_redacted_with_its_causes() -> None:
    @redacted_errors
    def parse(row: str) -> None:
        try:
            raise KeyError(f"no field in {row!r}")
        except KeyError as inner:
            raise ValueError(f"could not read row {row}", 7) from inner

    with pytest.raises(ValueError) as caught:
        parse("ann.lee@example.com called from +44 20 7946 0958")
    assert caught.value.args == ("could not read row [EMAIL] called from [PHONE]", 7)
    assert isinstance(caught.value.__cause__, KeyError)
    assert caught.value.__cause__.args == ("no field in '[EMAIL] called from [PHONE]'",)


def test_a_body_that_succeeds_returns_its_value() -> None:
    assert redacted_errors(lambda x: x + 1)(1) == 2


def test_the_cli_gives_prefect_its_settings_before_prefect_reads_them(tmp_path: Path) -> None:
    """Prefect reads the environment once, on import, and the CLI's modules import it: its
    temporary server must get minutes to start, stay quiet and keep its files under
    SENTREC_HOME, whatever the shell's environment holds."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment["SENTREC_HOME"] = str(tmp_path / "home")
    probe = ("import flows.cli.app\n"
             "from prefect.settings import get_current_settings\n"
             "s = get_current_settings()\n"
             "print(s.server.ephemeral.startup_timeout_seconds, s.logging.level, s.home)\n")
    done = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True,
                          text=True, check=True, cwd=Path(__file__).parents[3])
    assert done.stdout.split() == ["600", "WARNING", str((tmp_path / "home" / "prefect")
                                                         .resolve())]
