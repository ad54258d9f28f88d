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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.notify.notice import EVENT_WORDS, Notice

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
_COLOURS = {"critical": "Attention", "warning": "Warning", "info": "Accent", "resolved": "Good"}
_HTML_COLOURS = {
    "critical": "#a4262c",
    "warning": "#8a6100",
    "info": "#005a9e",
    "resolved": "#107c10",
}
_LEVEL_ORDER = ("critical", "warning", "info")
_TITLE_LABELS = 6  # incident ids in a digest's title
_TITLE_NAMES = 3  # identities per group in a digest's title
SUBJECT_MAX = 79  # an e-mail subject stays under 80 characters
# Teams accepts about 28 KB per message, apprise a 35 KB card template.
CARD_MAX_BYTES = 24_000


@dataclass(frozen=True)
class Rendered:
    """One message in every form: ``title`` (the first line of a card or text: incident ids
    first), ``subject`` (an e-mail's: identity and cause first, under 80 characters), ``text``,
    ``html`` (an e-mail body) and ``card`` (the Teams Workflows payload: a message with one
    Adaptive Card)."""

    title: str
    subject: str
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
            subject=notice_subject(notice),
            text=_text(notice),
            html=_html_page(notice.title, _html_notice(notice)),
            card=_card(notice.title, _tone(notice), _card_notice(notice)),
            labels=tuple(label for label in [notice.label, *_labels(notice.included)] if label),
        )
    ordered = sorted(notices, key=lambda n: (_is_resolved(n), -_rank(n.level), n.incident_id or 0))
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
        subject=digest_subject(ordered),
        text=text,
        html=_html_page(title, body),
        card=_digest_card(title, ordered),
        labels=tuple(_labels(ordered)),
    )


def _digest_card(title: str, notices: Sequence[Notice]) -> dict[str, Any]:
    """Return the digest card, kept under Teams' message size: without per-row links if they
    make it too large, and with its last rows cut (and counted) if it still is."""
    worst = _tone(notices[0])  # most severe open first, resolved last
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


def _is_resolved(notice: Notice) -> bool:
    return notice.event == "resolved"


def _tone(notice: Notice) -> str:
    """Return what colours *notice*: "resolved" (green) once resolved, else its level."""
    return "resolved" if _is_resolved(notice) else notice.level


def _labels(notices: Sequence[Notice]) -> list[str]:
    return list(dict.fromkeys(n.label for n in notices if n.label))


def _capped(items: Sequence[str], cap: int) -> str:
    """Return the first *cap* of *items* joined by commas, then "+N more" for the rest."""
    shown = ", ".join(items[:cap])
    if len(items) > cap:
        shown += f", +{len(items) - cap} more"
    return shown


def _who(notice: Notice) -> str:
    """Return whom *notice* is about: its identity, "tenant X" for a whole tenant, or "" for a
    notice about the monitor itself (a failing channel, a test)."""
    if notice.identity:
        return notice.identity
    return f"tenant {notice.tenant}" if notice.tenant else ""


def _names(notices: Sequence[Notice]) -> list[str]:
    """Return whom *notices* are about, each once, in order (a notice about the monitor
    itself by its headline)."""
    return list(dict.fromkeys(_who(n) or n.headline for n in notices))


def _groups(notices: Sequence[Notice]) -> list[tuple[str, list[Notice]]]:
    """Return (word, notices) per group of a digest: open ones by level, most severe first,
    then the resolved ones."""
    open_notices = [n for n in notices if not _is_resolved(n)]
    levels = list(_LEVEL_ORDER) + sorted(
        {n.level for n in open_notices} - set(_LEVEL_ORDER), key=lambda level: -_rank(level)
    )
    groups = [(level, [n for n in open_notices if n.level == level]) for level in levels]
    groups.append(("resolved", [n for n in notices if _is_resolved(n)]))
    return [(word, members) for word, members in groups if members]


def digest_title(notices: Sequence[Notice]) -> str:
    """Return ``[CM-1, CM-4, CM-7] 1 critical: sales-sync; 2 resolved: erp-connector, tenant
    contoso``: the incident ids first (at most six, then "+N more"), then per group the count
    and whom it is about (at most three names, then "+N more")."""
    groups = "; ".join(
        f"{len(members)} {word}: {_capped(_names(members), _TITLE_NAMES)}"
        for word, members in _groups(notices)
    )
    return f"[{_capped(_labels(notices), _TITLE_LABELS)}] {groups}"


# --- e-mail subject ------------------------------------------------------------------------


def _fit(head: str, cause: str, tail: str, limit: int = SUBJECT_MAX) -> str:
    """Return head + cause + tail within *limit* characters, shortening only *cause* (with an
    ellipsis); if even an empty cause does not fit, head and tail are kept whole."""
    room = limit - len(head) - len(tail)
    if len(cause) <= room:
        return head + cause + tail
    if room >= 2:
        return head + cause[: room - 1].rstrip() + "…" + tail
    return head.rstrip(": ") + tail


def _subject_word(notice: Notice) -> str:
    if notice.event == "test":
        return ""
    if _is_resolved(notice):
        return "resolved"
    if notice.event in ("reminder", "escalated"):
        return f"{notice.level} {notice.event}"
    return notice.level


def notice_subject(notice: Notice) -> str:
    """Return the e-mail subject of one notice: whom it is about and the cause first, then the
    incident id and level, under 80 characters: ``sales-sync: client secret 'sales 2025'
    expired 3 days ago [CM-3 critical]``. A long cause is shortened with an ellipsis; the
    identity and the bracket are never cut."""
    labels = [notice.label] if notice.label else _labels(notice.included)
    separator = " " if len(labels) == 1 else "; "
    tag = separator.join(part for part in (_capped(labels, 3), _subject_word(notice)) if part)
    who = _who(notice)
    if who and notice.headline.startswith(who + ": "):
        return _fit(f"{who}: ", notice.headline[len(who) + 2 :], f" [{tag}]")
    cause = re.sub(r"^\[[^\]]*\] ", "", notice.title)  # without the ids: they go last
    return _fit("", cause, f" [{tag}]")


def digest_subject(notices: Sequence[Notice]) -> str:
    """Return the e-mail subject of a digest: whom it is about first, then the counts, then the
    incident ids, under 80 characters: ``sales-sync, erp-connector: 2 critical [CM-1, CM-2]``
    (fewer ids, then fewer names, with "+N more", until it fits)."""
    names = list(dict.fromkeys(who for who in map(_who, notices) if who))
    labels = _labels(notices)
    counts = ", ".join(f"{len(members)} {word}" for word, members in _groups(notices))
    if not names:
        return _fit("", f"{len(notices)} notices: {counts}", f" [{_capped(labels, 1)}]")
    candidates = [
        (f"{_capped(names, name_cap)}: ", f" [{_capped(labels, label_cap)}]")
        for name_cap in range(min(len(names), _TITLE_NAMES), 0, -1)
        for label_cap in range(min(len(labels), _TITLE_NAMES), 0, -1)
    ]
    for head, tail in candidates:
        if len(head) + len(counts) + len(tail) <= SUBJECT_MAX:
            return head + counts + tail
    head, tail = candidates[-1]
    return _fit(head, counts, tail)


# --- text ----------------------------------------------------------------------------------


def _what_heading(notice: Notice) -> str:
    return "What was wrong" if _is_resolved(notice) else "What is wrong"


def _sections(notice: Notice) -> tuple[tuple[str, str], ...]:
    """Return the headed sentences of *notice*: a resolved notice has only what was wrong
    (also one queued by an older version, which still carried the remedy)."""
    if _is_resolved(notice):
        return ((_what_heading(notice), notice.what),)
    return (
        (_what_heading(notice), notice.what),
        ("What the integration will experience", notice.impact),
        ("What to do", notice.remedy),
    )


def _text(notice: Notice) -> str:
    lines = [notice.title, ""]
    lines += [f"{label}: {value}" for label, value in notice.facts]
    lines.append("")
    lines += [f"{heading}: {text}" for heading, text in _sections(notice) if text]
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
    colour = _HTML_COLOURS.get(_tone(notice), "#201f1e")
    parts = [f'<h2 style="color:{colour};font-size:18px">{_e(notice.title)}</h2>']
    if notice.facts:
        # One cell per fact, "Label: value": the plain-text part e-mail builds from this HTML
        # then reads like the text form instead of a label and its value on separate lines.
        rows = "".join(
            f'<tr><td style="padding:2px 0"><b>{_e(label)}:</b> {_e(value)}</td></tr>'
            for label, value in notice.facts
        )
        parts.append(f"<table>{rows}</table>")
    for heading, text in _sections(notice):
        if text:
            parts.append(f"<p><b>{_e(heading)}:</b> {_e(text)}</p>")
    if notice.portal_url:
        # The address itself is the link's text, so the plain-text part that e-mail clients
        # build from this HTML carries it too.
        label = f"{_e(notice.portal_label)}: " if notice.portal_label else ""
        parts.append(
            f'<p><b>Where:</b> {label}<a href="{_e(notice.portal_url)}">'
            f"{_e(notice.portal_url)}</a></p>"
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
        colour = _HTML_COLOURS.get(_tone(notice), "#201f1e")
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


def _card(title: str, tone: str, body: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the message with one Adaptive Card: *title* coloured by *tone* (a level, or
    "resolved"), then *body* (its ``Action.OpenUrl`` items become the card's actions)."""
    content_body = [
        _block(title, weight="Bolder", size="Medium", color=_COLOURS.get(tone, "Default")),
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
    for heading, text in _sections(notice):
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
                    _column(level, colour=_COLOURS.get(_tone(notice), "Default")),
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
