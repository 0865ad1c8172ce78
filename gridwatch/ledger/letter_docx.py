"""One letter of the register (提醒函 / 交办单 / 督办单) as a Word document (DOCX).

The same content as :func:`gridwatch.ledger.letters.letter_html`: title, number, the unit
addressed, the problems with their deadlines, the reply date, the letter it escalates and the
issuer. Written with python-docx (pure Python, no network, no Word needed). Every value from
the data goes in as literal text of a run (python-docx escapes it for XML), never as a field
or markup; characters XML cannot hold (control characters) are dropped.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.supervision.remind import ESCALATION_LABELS

__all__ = ["letter_docx"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value).date())
    return _NOT_XML.sub("", str(value))


def letter_docx(letter: pd.Series, items: pd.DataFrame, *, issuer: str = "") -> bytes:
    """One letter as the bytes of a DOCX file.

    Parameters
    ----------
    letter
        letter_no, kind, unit, issued_on, reply_due and escalated_from (a row of the plan
        or the register).
    items
        The problems it names: issue_id, deadline, days_overdue, and address and description
        when known.
    issuer
        Who issues it, printed in the title and under the letter.

    Returns
    -------
    bytes
    """
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    label = ESCALATION_LABELS[str(letter["kind"])]
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "SimSun")  # the Chinese text's font
    title = doc.add_heading(level=1)
    title.add_run(_text(issuer) + label)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number = doc.add_paragraph()
    number.add_run(_text(letter["letter_no"]))
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph().add_run(_text(letter["unit"]) + "：")
    body = doc.add_paragraph()
    body.add_run(f"截至{_text(letter['issued_on'])}，你单位以下 {len(items)} 个环境问题已超过整改"
                 f"期限，请抓紧整改，并于{_text(letter['reply_due'])}前书面回复整改情况。")
    origin = letter.get("escalated_from")
    if isinstance(origin, str) and origin:
        doc.add_paragraph().add_run(f"本{label}由未按期回复的{_text(origin)}升级。")
    columns = [("issue_id", "问题编号"), ("deadline", "整改期限"), ("days_overdue", "超期天数"),
               ("address", "地址"), ("description", "问题描述")]
    table = doc.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, (_, head) in zip(table.rows[0].cells, columns, strict=True):
        cell.paragraphs[0].add_run(head).bold = True
    for row in items.itertuples(index=False):
        cells = table.add_row().cells
        for cell, (name, _) in zip(cells, columns, strict=True):
            cell.paragraphs[0].add_run(_text(getattr(row, name, None)))
    signature = doc.add_paragraph()
    signature.add_run(_text(issuer))
    signature.add_run().add_break()
    signature.add_run(_text(letter["issued_on"]))
    signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
