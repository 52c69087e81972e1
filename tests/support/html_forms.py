"""The forms of an HTML page, read with the standard library's HTML parser, as a browser sees them.

A headless login reads every form it submits from the page it was served, so the pages and the
tests cannot drift apart unnoticed. Each ``Form`` has its ``id``, ``action`` (resolved against
the page URL), ``method``, the values of its hidden and text inputs, and its submit buttons
(``name``/``value`` pairs: a browser sends the one that was clicked and no other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin


@dataclass
class Form:
    """One ``<form>``: where it posts, what it sends, which buttons it offers."""

    id: str
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def button_values(self, name: str) -> list[str]:
        return [value for button, value in self.buttons if button == name]

    def submission(self, button: tuple[str, str] | None = None) -> dict[str, str]:
        """What a browser sends: every field, plus the clicked button's name and value."""
        sent = dict(self.fields)
        if button is not None and button[0]:
            sent[button[0]] = button[1]
        return sent


class _FormParser(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value if value is not None else "" for name, value in attrs}
        if tag == "form":
            self._open = Form(
                id=attributes.get("id", ""),
                action=urljoin(self.base_url, attributes.get("action", "") or self.base_url),
                method=attributes.get("method", "get").lower(),
            )
            self.forms.append(self._open)
        elif self._open is not None and tag in ("input", "button"):
            kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
            name = attributes.get("name", "")
            value = attributes.get("value", "")
            if kind == "submit":
                self._open.buttons.append((name, value))
            elif name and kind in ("hidden", "text", "email"):
                self._open.fields[name] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_of(html: str, page_url: str) -> list[Form]:
    """Every form of ``html`` in document order; actions resolved against ``page_url``."""
    parser = _FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms
