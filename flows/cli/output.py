"""Where the CLI writes: one rich console, and the one way a user-caused error is shown."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console()


def print_error(message: str, *notes: str) -> None:
    """``error: message`` and any notes, as text (never read as rich markup)."""
    console.print(f"[red]error:[/] {escape(message)}")
    for note in notes:
        console.print(escape(note))
