"""Check that no page shows a hard-coded user-facing string: every text comes from the catalogs.

An AST scan of the Streamlit code (`app.py`, `studio_ui.py`, `app_pages/`, `ui/`)
finds string literals and f-strings passed to Streamlit calls as labels, texts,
help or placeholders. A string counts as language when, without its `{…}` fields,
Material icon names and Markdown marks, it still contains a word of two or more
Latin letters or any Chinese character. Keys, icons, formats, MIME types and file
names go through keyword arguments that the scan does not read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [ROOT / "app.py", ROOT / "studio_ui.py", *sorted((ROOT / "app_pages").glob("*.py"))]
SCANNED += sorted((ROOT / "ui").glob("*.py"))

TEXT_CALLS = frozenset(
    {
        "title", "header", "subheader", "write", "markdown", "caption", "text", "code",
        "info", "warning", "error", "success", "exception", "toast", "spinner", "status",
        "expander", "popover", "tabs", "metric", "progress",
        "button", "download_button", "form_submit_button", "link_button", "checkbox",
        "toggle", "radio", "selectbox", "multiselect", "select_slider", "slider",
        "segmented_control", "pills", "text_input", "text_area", "number_input",
        "date_input", "time_input", "file_uploader", "camera_input", "color_picker",
        "chat_input", "set_page_config", "column_config", "TextColumn", "NumberColumn",
        "ProgressColumn", "ImageColumn", "CheckboxColumn", "SelectboxColumn",
    }
)  # fmt: skip
"""Streamlit functions whose first argument is shown; `tabs`, `write` and `markdown` show all."""

TEXT_KEYWORDS = frozenset(
    {"label", "help", "placeholder", "text", "title", "page_title", "caption", "column_config"}
)
"""Keyword arguments of Streamlit calls that are shown to the user. `st.Page` and
`st.page_link` show their `title` and `label`, but their first argument is a page file."""

FIELD_NAMES = frozenset({"BigModel Studio"})
"""Names that stay the same in every language."""

_FIELDS = re.compile(r"\{[^{}]*\}")
_ICONS = re.compile(r":material/[a-z_]+:")
_WORD = re.compile(r"[A-Za-z]{2,}|[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def is_language(text: str) -> bool:
    """Tell whether a literal reads as words in some language, not as a key, icon or format."""
    stripped = _ICONS.sub("", _FIELDS.sub("", text)).strip()
    if stripped in FIELD_NAMES:
        return False
    return _WORD.search(stripped) is not None


def _literal_texts(node: ast.expr) -> Iterator[tuple[int, str]]:
    """Yield the literal text in an argument: a string, the fixed parts of an f-string,
    the operands of `+`, both branches of `a if c else b`, the items of a list and the
    values of a dict (column headers of `column_config`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.lineno, node.value
    elif isinstance(node, ast.JoinedStr):
        parts = [
            value.value
            for value in node.values
            if isinstance(value, ast.Constant) and isinstance(value.value, str)
        ]
        yield node.lineno, "{}".join(parts)
    elif isinstance(node, ast.BinOp):
        yield from _literal_texts(node.left)
        yield from _literal_texts(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literal_texts(node.body)
        yield from _literal_texts(node.orelse)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            yield from _literal_texts(element)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literal_texts(value)


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


LOG_RECEIVERS = frozenset({"logger", "logging", "log"})
"""Names of objects whose `warning`, `error` and `exception` calls write the English log."""


def _is_log_call(call: ast.Call) -> bool:
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    return isinstance(receiver, ast.Name) and receiver.id in LOG_RECEIVERS


def _shown_arguments(call: ast.Call) -> Iterator[ast.expr]:
    if _is_log_call(call):
        return
    name = _call_name(call)
    if name in TEXT_CALLS:
        if name in ("tabs", "write", "markdown"):
            yield from call.args
        elif call.args:
            yield call.args[0]
    for keyword in call.keywords:
        if keyword.arg in TEXT_KEYWORDS:
            yield keyword.value


def find_hardcoded_strings(source: str, path: str = "<source>") -> list[Finding]:
    """Return every literal text that reaches a Streamlit label, text, help or placeholder."""
    findings = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for argument in _shown_arguments(node):
            for line, text in _literal_texts(argument):
                if is_language(text):
                    findings.append(Finding(path, line, text))
    return findings


def test_pages_have_no_hardcoded_strings() -> None:
    findings = []
    for path in SCANNED:
        source = path.read_text("utf-8")
        findings += find_hardcoded_strings(source, str(path.relative_to(ROOT)))

    assert [str(finding) for finding in findings] == []


def test_scan_covers_the_pages() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in SCANNED}

    assert "app.py" in names
    assert "app_pages/data.py" in names
    assert "ui/run_view.py" in names


def test_scan_finds_hardcoded_label() -> None:
    source = 'import streamlit as st\nst.button("Save the model", key="save")\n'

    findings = find_hardcoded_strings(source)

    assert [(finding.line, finding.text) for finding in findings] == [(2, "Save the model")]


def test_scan_finds_words_in_fstring_and_help() -> None:
    source = (
        "st.caption(f'Trained for {epochs} epochs')\n"
        "st.number_input(t('settings.x.label'), help='How many layers')\n"
        "column.metric('准确率', value)\n"
        "st.markdown('- ' + t('ui.x') + ' done')\n"
        "st.tabs([t('ui.a'), 'Images'])\n"
        "st.dataframe(rows, column_config={'id': 'Run', 'name': t('ui.name')})\n"
    )

    texts = [finding.text for finding in find_hardcoded_strings(source)]

    assert texts == ["Trained for {} epochs", "How many layers", "准确率", " done", "Images", "Run"]


def test_scan_allows_keys_icons_and_formats() -> None:
    source = (
        "st.title(t('ui.data.title'))\n"
        "st.markdown(f'**{name}**')\n"
        "st.button(t('ui.x'), key='data_sample', icon=':material/check:', type='primary')\n"
        "st.number_input(label, format='%.2f', placeholder='0.12, 0.15, …')\n"
        "st.set_page_config(page_title='BigModel Studio', layout='wide')\n"
        "st.download_button(t('ui.y'), data, file_name=f'run-{run_id}.log', mime='text/plain')\n"
        "st.markdown('\\n'.join(lines))\n"
        "logger.warning('Run %s failed: %s', run_id, error)\n"
    )

    assert find_hardcoded_strings(source) == []
