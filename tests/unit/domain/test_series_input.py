"""``sentrec detect``: the same detectors on counts another listening tool aggregated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.errors import MalformedFileError
from domain.series_input import detect_series, read_series

START = datetime(2024, 4, 1, tzinfo=UTC)  # a Monday


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def hourly(entity: str, hours: int, volume: int, negative: int | None,
           surge: dict[int, tuple[int, int]] | None = None) -> list[str]:
    rows = []
    for h in range(hours):
        v, n = (surge or {}).get(h, (volume, negative or 0))
        when = (START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{entity},{when},{v}" + ("" if negative is None else f",{n}"))
    return rows


def test_a_surge_in_a_pre_aggregated_series_is_one_alarm(tmp_path: Path) -> None:
    hours = 24 * 21 + 16
    rows = hourly("Acme", hours, 100, 20, {hours - 1: (210, 63)}) + hourly("Zed", hours, 50, 10)
    path = write(tmp_path / "series.csv", "entity,window_start,volume,negative", rows)
    alarms = detect_series(read_series(path))
    assert [(a.entity, a.window_start) for a in alarms] == [
        ("Acme", START + timedelta(hours=hours - 1))]
    assert alarms[0].reason.startswith("negative mentions 63 vs 20 usual for a Monday 15:00")


def test_a_single_value_column_is_watched_as_volume(tmp_path: Path) -> None:
    hours = 24 * 21
    rows = [r.replace(",100", ",100") for r in hourly("Acme", hours, 100, None,
                                                       {hours - 1: (230, 0)})]
    series = read_series(write(tmp_path / "v.csv", "entity,window_start,value", rows))
    [alarm] = detect_series(series)
    assert [s["signal"] for s in alarm.signals] == ["volume"]


def test_missing_windows_are_zero_and_the_window_length_is_inferred(tmp_path: Path) -> None:
    rows = ["Acme,2024-04-01,10", "Acme,2024-04-03,12"]
    series = read_series(write(tmp_path / "d.csv", "entity,window_start,volume", rows))
    assert series["volume"].to_list() == [10, 0, 12]
    assert (series["window_end"][0] - series["window_start"][0]) == timedelta(days=1)


@pytest.mark.parametrize("header, rows, message", [
    ("entity,when,volume", ["Acme,2024-04-01,1"], "missing column 'window_start'"),
    ("entity,window_start", ["Acme,2024-04-01"], "needs a volume or a value column"),
    ("entity,window_start,volume", ["Acme,yesterday,1"], "line 2, field 'window_start'"),
    ("entity,window_start,volume", ["Acme,2024-04-01,-3"], "line 2, field 'volume'"),
    ("entity,window_start,volume,negative", ["Acme,2024-04-01,3,5"],
     "line 2, field 'negative': more negative mentions than mentions"),
    ("entity,window_start,volume", [",2024-04-01,3"], "line 2, field 'entity'"),
])
def test_a_bad_series_names_the_line_and_field(tmp_path: Path, header: str, rows: list[str],
                                               message: str) -> None:
    with pytest.raises(MalformedFileError, match=message):
        read_series(write(tmp_path / "bad.csv", header, rows))


def test_the_detect_command_prints_and_writes_the_alarms(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    hours = 24 * 21 + 16
    path = write(tmp_path / "series.csv", "entity,window_start,volume,negative",
                 hourly("Acme", hours, 100, 20, {hours - 1: (210, 63)}))
    out = tmp_path / "alarms.csv"
    result = CliRunner().invoke(app, ["detect", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 alarms in 520 windows of 1 entities" in result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "entity,window_start,window_end,severity,signals,reason"
    assert lines[1].startswith("Acme,2024-04-22T15:00:00+00:00,2024-04-22T16:00:00+00:00,")
    assert ",negative volume|volume|negative share," in lines[1]
    bad = CliRunner().invoke(app, ["detect", str(write(tmp_path / "b.csv", "entity,x", ["a,1"]))])
    assert bad.exit_code == 2 and "missing column 'window_start'" in bad.output


def test_the_count_alpha_setting_decides_whether_a_modest_surge_fires(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    hours = 24 * 21 + 16
    path = write(tmp_path / "series.csv", "entity,window_start,volume",
                 hourly("Acme", hours, 10, None, {hours - 1: (17, 0)}))
    found: dict[str, str] = {}
    for alpha in ("1e-5", "0.05"):
        monkeypatch.setenv("SENTREC_ALERT_ALPHA", alpha)
        result = CliRunner().invoke(app, ["detect", str(path)])
        assert result.exit_code == 0, result.output
        found[alpha] = result.output.split(" alarms in ")[0].split()[-1]
    assert found == {"1e-5": "0", "0.05": "1"}
