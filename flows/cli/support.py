"""``sentrec suggest`` and ``sentrec index-conversations``: the support assistant by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.settings import Settings
from flows.cli.output import console

if TYPE_CHECKING:
    from service.support import SupportAnswer


def index_conversations_command() -> None:
    """Index every answered support conversation for `sentrec suggest` and the API."""
    from flows.index_conversations import index_conversations

    with console.status("pairing and embedding support conversations"):
        built = index_conversations(settings=Settings())
    console.print(f"support case index v{built.version} is live: {built.pairs:,} cases of "
                  f"{built.brands:,} entities")


def suggest(text: Annotated[str, typer.Argument(help="The customer's message.")],
            entity: Annotated[str | None, typer.Option(
                help="Only this brand's past cases (any case).")] = None,
            k: Annotated[int, typer.Option(min=1, max=20)] = 5) -> None:
    """Suggest replies from similar resolved cases, with the message's emotion and intent."""
    from domain.errors import InvalidInputError
    from flows.runtime import ready_engine
    from service.support import MAX_TEXT, SupportAssistant

    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"the text has {len(text):,} characters; give at most "
                                f"{MAX_TEXT:,}")
    settings = Settings()
    assistant = SupportAssistant(ready_engine(settings), settings.home / "models")
    with console.status("finding similar resolved cases"):
        answer = assistant.answer(text, entity=entity, k=k)
    print_answer(answer, console)


def print_answer(answer: SupportAnswer, console: Console) -> None:
    """Emotion, intent and the suggestions with the cases behind them."""
    emotion = ("no sentiment model is live yet" if answer.emotion is None else
               ", ".join(f"{label} {p:.2f}" for label, p in answer.emotion.items()))
    console.print(f"emotion: {emotion}")
    console.print(f"intent: {escape(answer.intent or 'unknown (no topics learned yet)')}")
    scope = f" of {escape(answer.entity)}" if answer.entity else ""
    if not answer.suggestions:
        console.print(f"no similar resolved cases{scope} in index v{answer.index_version}")
        return
    table = Table(title=f"suggested replies (similar resolved cases{scope}, index "
                  f"v{answer.index_version})", show_lines=True)
    for column in ("#", "reply", "similarity", "cases behind it"):
        table.add_column(column, overflow="fold")
    for rank, s in enumerate(answer.suggestions, 1):
        cases = "\n".join(f"{c.similarity:.2f} {escape(c.entity)}: {escape(c.customer)}"
                          for c in s.cases[:3])
        more = f"\n... and {len(s.cases) - 3} more" if len(s.cases) > 3 else ""
        table.add_row(str(rank), escape(s.reply), f"{s.similarity:.2f}", cases + more)
    console.print(table)
