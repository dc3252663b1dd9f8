"""Customer text never leaves sentrec unredacted: not in an error line, not in Prefect's state
database or events, not in a result file, not in the store."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMAIL, CARD = "gwendolyn.pii.probe@example.org", "4111111111111111"


def sentrec(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "SENTREC_"))}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=300,
                          env={**env, "SENTREC_HOME": str(home), "PYTHONPATH": str(REPO)})


def leaks(folder: Path) -> list[str]:
    """Files under ``folder`` whose bytes hold the planted email or card number, as they are
    or base64-encoded (Prefect stores pickled results that way)."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            with contextlib.suppress(ValueError):
                data += base64.b64decode(data, validate=False)
            if EMAIL.encode() in data or CARD.encode() in data:
                found.append(str(path.relative_to(folder)))
    return found


def test_a_file_that_fails_leaks_nothing_anywhere(tmp_path: Path) -> None:
    home = tmp_path / "home"
    unknown = tmp_path / "export.csv"
    unknown.write_text(f"{EMAIL};paid;{CARD}\nsecond\n", encoding="utf-8")
    failed = sentrec(home, "ingest", "events", str(unknown))
    assert failed.returncode == 2
    assert "[EMAIL]" in failed.stdout and "[CARD]" in failed.stdout
    rows = tmp_path / "messages.csv"
    rows.write_text("message_id,text,created_at\n"
                    f"m1,write to {EMAIL} card {CARD},not a time\n"
                    "m2,fine thanks,2024-01-01T00:00:00Z\n", encoding="utf-8")
    loaded = sentrec(home, "ingest", "messages", str(rows))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    shown = sentrec(home, "rejects", "1")
    assert "[EMAIL]" in shown.stdout
    for result in (failed, loaded, shown):
        assert EMAIL not in result.stdout + result.stderr
        assert CARD not in result.stdout + result.stderr
    not_ready = sentrec(home, "score")  # a flow that fails: its error stays in memory too
    assert not_ready.returncode == 2
    assert leaks(home) == []
    results = home / "prefect" / "storage"
    assert not results.exists() or not any(results.iterdir())


def test_a_user_error_inside_a_flow_is_one_line_without_prefects_traceback(
        tmp_path: Path) -> None:
    """Prefect logs a failed flow's exception with its traceback; for a mistake of the user's
    (here: nothing to learn from yet) the CLI's one line is the whole answer."""
    home = tmp_path / "home"
    assert sentrec(home, "db", "upgrade").returncode == 0
    failed = sentrec(home, "train", "adapt", "--max-steps", "1")
    assert failed.returncode == 2
    output = failed.stdout + failed.stderr
    assert "Traceback" not in output and "Encountered exception" not in output
    assert ("error: only 0 distinct texts in the store; adapting the encoder needs at least 50"
            in " ".join(output.split()))
