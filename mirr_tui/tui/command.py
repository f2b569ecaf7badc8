"""The play screen's command line: completion of action, service and mode words (→ takes the suggestion,
Tab completes like a shell)."""

from __future__ import annotations

from textual import events
from textual.suggester import Suggester
from textual.widgets import Input

ACTION_WORDS = ("logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "break", "wait")


def word_choices(words: list[str], services: tuple[str, ...], modes: tuple[str, ...]) -> tuple[str, ...]:
    """The words that may stand at the last position of `words` (the one being typed)."""
    position = len(words) - 1
    head = words[0] if position else ""
    if position == 0:
        return ACTION_WORDS
    if position == 1 and head != "wait":
        return services
    if position == 2 and head in ("diagnose", "diag"):
        return modes
    return ()


class ActionSuggester(Suggester):
    """Completes the words of a command: action, service, mode."""

    def __init__(self, services: tuple[str, ...], modes: tuple[str, ...]) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        self.services = services
        self.modes = modes

    async def get_suggestion(self, value: str) -> str | None:
        words = value.split(" ")
        partial = words[-1]
        if not partial and len(words) == 1:
            return None
        for choice in word_choices(words, self.services, self.modes):
            if choice.startswith(partial) and choice != partial:
                return value[: len(value) - len(partial)] + choice
        return None


def tab_complete(text: str, services: tuple[str, ...], modes: tuple[str, ...]) -> str:
    """What Tab makes of `text`, as a shell does: the word being typed becomes its only completion and a
    space follows; with several completions it grows to their common prefix; otherwise nothing changes."""
    words = text.split(" ")
    partial = words[-1].lower()
    if not partial:
        return text
    matches = [choice for choice in word_choices(words, services, modes) if choice.startswith(partial)]
    if len(matches) == 1:
        return text[: len(text) - len(partial)] + matches[0] + " "
    if matches:
        common = min(matches, key=len)
        while not all(choice.startswith(common) for choice in matches):
            common = common[:-1]
        return text[: len(text) - len(partial)] + common
    return text


def complete_command(text: str, services: tuple[str, ...], modes: tuple[str, ...]) -> str:
    """Expand each word that is the prefix of exactly one action, service or mode word (its position's)."""
    words = text.split()
    choices_at = [ACTION_WORDS, services, modes]
    for n, word in enumerate(words[:3]):
        matches = [choice for choice in choices_at[n] if choice.startswith(word.lower())]
        if len(matches) == 1:
            words[n] = matches[0]
    return " ".join(words)


class CommandInput(Input):
    """The command line: Tab completes the word being typed (instead of moving the focus)."""

    async def _on_key(self, event: events.Key) -> None:
        # Handled with the key, not as a binding: a binding's action runs after the keys already queued, so
        # a fast `diag<Tab>au<Tab>` would complete `diagau`.
        if event.key == "tab":
            event.stop()
            event.prevent_default()
            self.action_complete()
            return
        await super()._on_key(event)

    def __init__(self, services: tuple[str, ...], modes: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(suggester=ActionSuggester(services, modes), **kwargs)  # type: ignore[arg-type]
        self.services = services
        self.modes = modes

    def action_complete(self) -> None:
        if self.cursor_position != len(self.value):
            return
        completed = tab_complete(self.value, self.services, self.modes)
        if completed != self.value:
            self.value = completed
            self.cursor_position = len(completed)
