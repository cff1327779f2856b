"""Messaging adapters for one-time codes and notifications: console (default) and in-memory (tests)."""

from __future__ import annotations

from dataclasses import dataclass, field


class ConsoleMessenger:
    """Prints messages instead of sending SMS: the development and demo default."""

    def send_text(self, phone: str, text: str) -> None:
        print(f"[civicpass sms] to {phone}: {text}", flush=True)


@dataclass
class MemoryMessenger:
    """Keeps sent messages in a list so tests can read the codes a resident would receive."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send_text(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def last_to(self, phone: str) -> str:
        return next(text for to, text in reversed(self.sent) if to == phone)
