"""The play screen's command line: completion of action, service and mode words."""

from __future__ import annotations

from textual.suggester import Suggester


class ActionSuggester(Suggester):
    """Completes the words of a command: action, service, mode."""

    ACTION_WORDS = ("logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "break", "wait")

    def __init__(self, services: tuple[str, ...], modes: tuple[str, ...]) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        self.services = services
        self.modes = modes

    async def get_suggestion(self, value: str) -> str | None:
        words = value.split(" ")
        position = len(words) - 1
        partial = words[-1]
        if not partial and position == 0:
            return None
        head = words[0] if position else ""
        if position == 0:
            choices: tuple[str, ...] = self.ACTION_WORDS
        elif position == 1 and head != "wait":
            choices = self.services
        elif position == 2 and head in ("diagnose", "diag"):
            choices = self.modes
        else:
            return None
        for choice in choices:
            if choice.startswith(partial) and choice != partial:
                return value[: len(value) - len(partial)] + choice
        return None


def complete_command(text: str, services: tuple[str, ...], modes: tuple[str, ...]) -> str:
    """Expand each word that is the prefix of exactly one action, service or mode word (its position's)."""
    words = text.split()
    choices_at = [ActionSuggester.ACTION_WORDS, services, modes]
    for n, word in enumerate(words[:3]):
        matches = [choice for choice in choices_at[n] if choice.startswith(word.lower())]
        if len(matches) == 1:
            words[n] = matches[0]
    return " ".join(words)
