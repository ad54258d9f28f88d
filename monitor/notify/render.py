"""Turn notices into what each kind of channel shows: a Teams card, an e-mail, plain text.

One notice renders as a full message; several for the same channel at the same time as one
**digest** (a table with one row per incident, then the full text of each). Pure functions; no
apprise. :func:`render` returns all forms at once and the channel picks the one it sends. Text
from outside (names read from Graph or Dataverse, error messages) is shown as itself, never as
formatting (:func:`escape_card_text`; docs/notifications.md, "Rendering").
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.notify.notice import EVENT_WORDS, Notice

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
_COLOURS = {"critical": "Attention", "warning": "Warning", "info": "Accent"}
_HTML_COLOURS = {"critical": "#a4262c", "warning": "#8a6100", "info": "#005a9e"}
_TITLE_LABELS = 6
# Teams accepts about 28 KB per message, apprise a 35 KB card template.
CARD_MAX_BYTES = 24_000


@dataclass(frozen=True)
class Rendered:
    """One message in every form: ``title`` (subject line), ``text``, ``html`` (an e-mail body)
    and ``card`` (the Teams Workflows payload: a message with one Adaptive Card)."""

    title: str
    text: str
    html: str
    card: dict[str, Any]
    labels: tuple[str, ...]


def render(notices: Sequence[Notice]) -> Rendered:
    """Return one message for *notices*: the notice itself if there is one, else a digest."""
    if not notices:
        raise ValueError("nothing to render")
    if len(notices) == 1:
        notice = notices[0]
        return Rendered(
            title=notice.title,
            text=_text(notice),
            html=_html_page(notice.title, _html_notice(notice)),
            card=_card(notice.title, notice.level, _card_notice(notice)),
            labels=tuple(label for label in [notice.label, *_labels(notice.included)] if label),
        )
    ordered = sorted(notices, key=lambda n: (-_rank(n.level), n.incident_id or 0))
    title = digest_title(ordered)
    text = (
        title
        + "\n\n"
        + _text_table(ordered)
        + "\n\n"
        + "\n\n".join("-" * 60 + "\n" + _text(notice) for notice in ordered)
    )
    body = _html_table(ordered) + "".join("<hr>" + _html_notice(notice) for notice in ordered)
    return Rendered(
        title=title,
        text=text,
        html=_html_page(title, body),
        card=_digest_card(title, ordered),
        labels=tuple(_labels(ordered)),
    )


def _digest_card(title: str, notices: Sequence[Notice]) -> dict[str, Any]:
    """Return the digest card, kept under Teams' message size: without per-row links if they
    make it too large, and with its last rows cut (and counted) if it still is."""
    worst = notices[0].level
    card = _card(title, worst, _card_table(notices))
    if len(json.dumps(card)) <= CARD_MAX_BYTES:
        return card
    shown = list(notices)
    while shown:
        rest = len(notices) - len(shown)
        body = _card_table(shown, links=False)
        if rest:
            body.append(
                _markdown_block(
                    f"... and {rest} more: see the e-mail or `monitor report`.", isSubtle=True
                )
            )
        card = _card(title, worst, body)
        if len(json.dumps(card)) <= CARD_MAX_BYTES:
            return card
        shown = shown[: max(0, len(shown) - max(1, len(shown) // 5))]
    return _card(title, worst, [_block(f"{len(notices)} notices: see the e-mail or the report.")])


def _rank(level: str) -> int:
    return {"critical": 2, "warning": 1}.get(level, 0)


def _labels(notices: Sequence[Notice]) -> list[str]:
    return list(dict.fromkeys(n.label for n in notices if n.label))


def digest_title(notices: Sequence[Notice]) -> str:
    """Return ``[CM-1, CM-2, ... +N] 20 notices: 3 critical, 17 warning``."""
    labels = _labels(notices)
    shown = ", ".join(labels[:_TITLE_LABELS])
    if len(labels) > _TITLE_LABELS:
        shown += f", +{len(labels) - _TITLE_LABELS} more"
    counts = Counter(n.level for n in notices if n.event != "resolved")
    parts = [
        f"{counts[level]} {level}" for level in ("critical", "warning", "info") if counts[level]
    ]
    resolved = sum(1 for n in notices if n.event == "resolved")
    if resolved:
        parts.append(f"{resolved} resolved")
    return f"[{shown}] {len(notices)} notices: {', '.join(parts)}"


# --- text ----------------------------------------------------------------------------------


def _text(notice: Notice) -> str:
    lines = [notice.title, ""]
    lines += [f"{label}: {value}" for label, value in notice.facts]
    lines.append("")
    if notice.what:
        lines.append(f"What is wrong: {notice.what}")
    if notice.impact:
        lines.append(f"What the integration will experience: {notice.impact}")
    if notice.remedy:
        lines.append(f"What to do: {notice.remedy}")
    if notice.portal_url:
        lines.append(f"Where: {notice.portal_label or 'portal'}: {notice.portal_url}")
    lines += list(notice.lines)
    if notice.included:
        lines += ["", _text_table(notice.included), ""]
        lines += ["-" * 60 + "\n" + _text(item) for item in notice.included]
    return "\n".join(lines).rstrip() + "\n"


def _row(notice: Notice) -> tuple[str, str, str, str, str]:
    return (
        notice.label or "",
        notice.level,
        EVENT_WORDS.get(notice.event, notice.event),
        notice.headline,
        notice.deadline_text or "",
    )


def _text_table(notices: Sequence[Notice]) -> str:
    rows = [_row(n) for n in notices]
    lines = []
    for label, level, event, headline, deadline in rows:
        line = f"{label:<8} {level:<8} {event:<16} {headline}"
        if deadline:
            line += f" ({deadline})"
        lines.append(line)
    return "\n".join(lines)


# --- HTML (e-mail) -------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title></head>"
        '<body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px;color:#201f1e">'
        f"{body}</body></html>"
    )


def _html_notice(notice: Notice) -> str:
    colour = _HTML_COLOURS.get(notice.level, "#201f1e")
    parts = [f'<h2 style="color:{colour};font-size:18px">{_e(notice.title)}</h2>']
    if notice.facts:
        rows = "".join(
            f'<tr><th align="left" style="padding:2px 12px 2px 0">{_e(label)}</th>'
            f"<td>{_e(value)}</td></tr>"
            for label, value in notice.facts
        )
        parts.append(f"<table>{rows}</table>")
    for heading, text in (
        ("What is wrong", notice.what),
        ("What the integration will experience", notice.impact),
        ("What to do", notice.remedy),
    ):
        if text:
            parts.append(f"<p><b>{_e(heading)}:</b> {_e(text)}</p>")
    if notice.portal_url:
        parts.append(
            f'<p><b>Where:</b> <a href="{_e(notice.portal_url)}">'
            f"{_e(notice.portal_label or notice.portal_url)}</a></p>"
        )
    parts += [f"<p>{_e(line)}</p>" for line in notice.lines]
    if notice.included:
        parts.append(_html_table(notice.included))
        parts += ["<hr>" + _html_notice(item) for item in notice.included]
    return "".join(parts)


def _html_table(notices: Sequence[Notice]) -> str:
    head = "".join(
        f'<th align="left" style="padding:4px 8px;border-bottom:1px solid #999">{_e(h)}</th>'
        for h in ("Incident", "Severity", "Event", "What", "Deadline")
    )
    rows = []
    for notice in notices:
        label, level, event, headline, deadline = _row(notice)
        colour = _HTML_COLOURS.get(level, "#201f1e")
        cells = [
            f'<td style="padding:4px 8px"><b>{_e(label)}</b></td>',
            f'<td style="padding:4px 8px;color:{colour}">{_e(level)}</td>',
            f'<td style="padding:4px 8px">{_e(event)}</td>',
            f'<td style="padding:4px 8px">{_e(headline)}</td>',
            f'<td style="padding:4px 8px">{_e(deadline)}</td>',
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table style="border-collapse:collapse"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


# --- Adaptive Card (Teams Workflows) ---------------------------------------------------------

# CommonMark lets any ASCII punctuation be escaped with a backslash; these are the characters
# that start formatting in a card (emphasis, links, code, HTML-like tags and autolinks, headings,
# tables, strike-through).
_MARKDOWN_CHARACTERS = re.compile(r"([\\`*_~\[\]<>#|])")
_LIST_MARKER = re.compile(r"(?m)^([ \t]*)([-+])(?=[ \t]|$)")
_ORDERED_MARKER = re.compile(r"(?m)^([ \t]*\d+)([.)])(?=[ \t]|$)")
_FUNCTION_OPENING = re.compile(r"\{(?=\{)")  # "{{" starts a DATE()/TIME() function


def escape_card_text(text: str) -> str:
    """Return *text* escaped so that an Adaptive Card shows it as it is: no bold, italic,
    link, list or date function, whatever it contains."""
    text = _MARKDOWN_CHARACTERS.sub(r"\\\1", text)
    text = _LIST_MARKER.sub(r"\1\\\2", text)
    text = _ORDERED_MARKER.sub(r"\1\\\2", text)
    return _FUNCTION_OPENING.sub("{\\\\", text)


def _link_target(url: str) -> str:
    """Return *url* with the characters that could end a Markdown link target percent-encoded."""
    return re.sub(r"[\s()<>\[\]\\]", lambda match: f"%{ord(match[0]):02X}", url)


def _block(text: str, **extra: Any) -> dict[str, Any]:
    """A text block showing *text* literally (see :func:`escape_card_text`)."""
    return _markdown_block(escape_card_text(text), **extra)


def _markdown_block(markdown: str, **extra: Any) -> dict[str, Any]:
    """A text block whose text is Markdown we wrote (untrusted parts already escaped)."""
    return {"type": "TextBlock", "text": markdown, "wrap": True, **extra}


def _card(title: str, level: str, body: list[dict[str, Any]]) -> dict[str, Any]:
    content_body = [
        _block(title, weight="Bolder", size="Medium", color=_COLOURS.get(level, "Default")),
        *body,
    ]
    actions = [item for item in body if item.get("type") == "Action.OpenUrl"]
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": [item for item in content_body if item.get("type") != "Action.OpenUrl"],
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


def _card_notice(notice: Notice) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    if notice.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": escape_card_text(label), "value": escape_card_text(value)}
                    for label, value in notice.facts
                ],
            }
        )
    for heading, text in (
        ("What is wrong", notice.what),
        ("What the integration will experience", notice.impact),
        ("What to do", notice.remedy),
    ):
        if text:
            body.append(_block(heading, weight="Bolder", spacing="Medium"))
            body.append(_block(text))
    body += [_block(line, isSubtle=True) for line in notice.lines]
    if notice.included:
        body += _card_table(notice.included)
    if notice.portal_url:
        body.append(
            {
                "type": "Action.OpenUrl",
                "title": notice.portal_label or "Open the portal",
                "url": notice.portal_url,
            }
        )
    return body


def _column(
    text: str, *, width: str = "auto", bold: bool = False, colour: str = "Default"
) -> dict[str, Any]:
    block = _block(text, color=colour)
    if bold:
        block["weight"] = "Bolder"
    return {"type": "Column", "width": width, "items": [block]}


def _card_table(notices: Sequence[Notice], *, links: bool = True) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "type": "ColumnSet",
            "columns": [
                _column("Incident", bold=True),
                _column("Severity", bold=True),
                _column("What", width="stretch", bold=True),
            ],
        }
    ]
    for notice in notices:
        label, level, event, headline, deadline = _row(notice)
        what = f"{event}: {headline}" + (f" ({deadline})" if deadline else "")
        rows.append(
            {
                "type": "ColumnSet",
                "separator": True,
                "columns": [
                    _column(label, bold=True),
                    _column(level, colour=_COLOURS.get(level, "Default")),
                    _column(what, width="stretch"),
                ],
            }
        )
        if links and notice.portal_url:
            label = escape_card_text(notice.portal_label or "Open the portal")
            rows.append(
                _markdown_block(
                    f"[{label}]({_link_target(notice.portal_url)})",
                    isSubtle=True,
                    spacing="None",
                )
            )
    return rows
