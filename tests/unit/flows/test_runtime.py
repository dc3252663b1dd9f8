"""What leaves a task or flow body is redacted, whatever raised it."""

from __future__ import annotations

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
