"""What a teacher said about each text is kept for the next distillation
(``storage.teacher``), on SQLite and PostgreSQL: once per text, per teacher version and per
labeller, keyed by the text's hash, never by the text."""

from __future__ import annotations

from sqlalchemy import Engine, select

from storage.registry import register_version
from storage.schema import TeacherLogit
from storage.teacher import keep_teacher_logits, prune_teacher_logits, teacher_logits_of

TEXTS = ["Operating profit rose to EUR 13.1 mn", "shares fell 4%", "@USER flight delayed again"]
LOGITS = {text: [0.5 + i, -1.25, 0.125 * i] for i, text in enumerate(TEXTS)}  # float32-exact


def _version(engine: Engine) -> int:
    return register_version(engine=engine, name="sentiment", eval_set="e",
                            primary_metric="macro_f1", metrics={"macro_f1": 0.8},
                            params={"profile": "accurate"}, artifact_path="/x.pt",
                            sha256="0" * 64).id


def test_logits_are_kept_once_and_read_back_exactly(engine: Engine) -> None:
    version = _version(engine)
    assert keep_teacher_logits(engine=engine, version_id=version, labeller="int8",
                               logits=dict(list(LOGITS.items())[:2])) == 2
    # a later run labels the third text too: only it is new
    assert keep_teacher_logits(engine=engine, version_id=version, labeller="int8",
                               logits=LOGITS) == 1
    found = teacher_logits_of(engine=engine, version_id=version, labeller="int8",
                              texts=[*TEXTS, "never labelled"])
    assert found == LOGITS


def test_another_teacher_or_labeller_does_not_see_them(engine: Engine) -> None:
    version, other = _version(engine), _version(engine)
    keep_teacher_logits(engine=engine, version_id=version, labeller="int8", logits=LOGITS)
    assert teacher_logits_of(engine=engine, version_id=version, labeller="float",
                             texts=TEXTS) == {}
    assert teacher_logits_of(engine=engine, version_id=other, labeller="int8",
                             texts=TEXTS) == {}


def test_the_store_holds_hashes_not_the_texts(engine: Engine) -> None:
    keep_teacher_logits(engine=engine, version_id=_version(engine), labeller="int8",
                        logits=LOGITS)
    with engine.connect() as connection:
        rows = connection.execute(select(TeacherLogit)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 3
    assert not any(word in stored for word in ("profit", "shares", "delayed", "USER"))


def test_only_the_most_recent_teachers_keep_their_logits(engine: Engine) -> None:
    first, second, third = _version(engine), _version(engine), _version(engine)
    for version in (first, second, third):  # each teaches in turn, the newest last
        keep_teacher_logits(engine=engine, version_id=version, labeller="int8", logits=LOGITS)
    keep_teacher_logits(engine=engine, version_id=first, labeller="float",
                        logits=dict(list(LOGITS.items())[:1]))  # first teaches again, on a GPU

    assert prune_teacher_logits(engine=engine, keep=2) == 3  # second's three rows
    assert teacher_logits_of(engine=engine, version_id=second, labeller="int8",
                             texts=TEXTS) == {}
    for version, labeller, n in ((first, "int8", 3), (first, "float", 1), (third, "int8", 3)):
        assert len(teacher_logits_of(engine=engine, version_id=version, labeller=labeller,
                                     texts=TEXTS)) == n
    assert prune_teacher_logits(engine=engine, keep=2) == 0
