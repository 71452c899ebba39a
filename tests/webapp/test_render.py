"""Rendering: user and model text is inert HTML, LaTeX survives for the browser, money is not math."""

from __future__ import annotations

import pytest

from core.types import CritiqueResult, StepCheck, StepResult
from tests.webapp.conftest import INJECTIONS, assert_inert
from webapp.render import annotation_html, critique_html, markdown_html, text_html
from webapp.reports import report_csv, student_page


def _result(text: str) -> CritiqueResult:
    steps = [
        StepResult(index=1, text=text, verdict="correct", critique=text, meta_critique=text, vote_share=0.75),
        StepResult(
            index=2,
            text="x",
            verdict="incorrect",
            critique="no",
            check=StepCheck(status="wrong", detail=text),
            vote_share=0.5,
        ),
    ]
    return CritiqueResult(problem=text, steps=steps, first_error_step=2, model=text, backend="b", samples=4, votes=[2])


@pytest.mark.parametrize("payload", [*INJECTIONS, '"><svg onload=alert(4)>', "<a href='javascript:alert(5)'>x</a>"])
def test_injection_strings_render_as_text_everywhere(payload: str) -> None:
    html = critique_html(_result(f"before {payload} after"))
    assert_inert(html)
    assert "before" in html and "after" in html
    assert_inert(annotation_html(payload, [payload], critique=_result(payload), ratings=[1], flagged=[1], current=1))
    assert_inert(text_html(payload))
    assert_inert(markdown_html(f"# Title\n{payload}\n[ok](https://example.org)"), web_links=True)


def test_cards_show_votes_symbolic_check_and_the_first_wrong_step() -> None:
    html = critique_html(_result("2+2=4"))
    assert "votes 75%" in html and "symbolic ✗" in html
    assert 'class="step-card verdict-incorrect first-error" id="step-2"' in html
    assert "<details" in html and "Meta-critique" in html


def test_latex_is_kept_for_the_browser_and_cannot_open_a_tag() -> None:
    html = text_html(r"Let $x<3$ and $$\frac{a}{b}$$ and \(y>1\) then \[z\]")
    assert r"$x\lt 3$" in html and r"$$\frac{a}{b}$$" in html and r"\(y\gt 1\)" in html and r"\[z\]" in html


def test_money_amounts_are_not_math() -> None:
    html = text_html("She pays $5 and gets $3 back.")
    assert "$" not in html.replace("&#36;", "")  # no literal dollar the browser could pair into math
    assert html.count("&#36;") == 2


def test_markdown_guidelines_keep_safe_links_only() -> None:
    html = markdown_html("**bold** [ok](https://example.org) [bad](javascript:alert(1))")
    assert "<strong>bold</strong>" in html and 'href="https://example.org"' in html
    assert_inert(html, web_links=True)  # the javascript: link stays visible as plain text


def test_teacher_report_is_escaped_and_spreadsheet_safe() -> None:
    from webapp.handlers.teacher import ReportRow

    row = ReportRow(
        student="<b>Eve</b>",
        item_id=1,
        problem='=HYPERLINK("x")',
        steps=[INJECTIONS[0], "ok"],
        first_wrong_step=1,
        comment=INJECTIONS[1],
        corrected=True,
        critique=None,
    )
    page = student_page(row.student, [row])
    assert "<script>" not in page and "<img" not in page and "&lt;b&gt;Eve&lt;/b&gt;" in page
    csv_text = report_csv([row])
    assert csv_text.splitlines()[0] == "student,problem,first_wrong_step,comment"
    assert "'=HYPERLINK" in csv_text


def test_names_inside_markdown_lose_their_markup() -> None:
    from markdown_it import MarkdownIt

    from webapp.render import md_escape

    rendered = MarkdownIt("commonmark", {"html": True}).render(f"Logged in as **{md_escape(INJECTIONS[1] + ' *x*')}**")
    assert_inert(rendered)
    assert "<em>" not in rendered and "onerror=alert(2)" in rendered  # shown as text


def test_the_confidence_bar_is_clamped_labelled_and_inert() -> None:
    from webapp.render import confidence_bar, sanitize

    bar = sanitize(confidence_bar(0.834))
    assert 'aria-label="model confidence 83 % correct"' in bar and "conf-w-17" in bar
    assert "100 %" in confidence_bar(7.5) and "conf-w-20" in confidence_bar(7.5)  # clamped, never wider than full
    assert "0 %" in confidence_bar(-3) and "conf-w-0" in confidence_bar(-3)
    assert confidence_bar(None) == "" and confidence_bar(float("nan")) == ""
    assert confidence_bar('"><script>alert(1)</script>') == ""  # not a number: nothing, never the text
    assert_inert(bar)


def test_a_card_shows_the_checkers_reason_and_the_models_own_verdict() -> None:
    step = StepResult(
        index=2,
        text="Change is 20 − 12 = 9 dollars.",
        verdict="incorrect",
        model_verdict="correct",
        p_correct=0.83,
        check=StepCheck(status="wrong", detail="20 − 12 = 9 is false (20 − 12 = 8)"),
    )
    result = CritiqueResult(problem="p", steps=[step], first_error_step=2, model="m", backend="b")
    page = critique_html(result)
    assert "✗ incorrect" in page and "model said: ✓ correct" in page
    assert "<b>Checker:</b> 20 − 12 = 9 is false (20 − 12 = 8)" in page
    assert "model confidence 83 % correct" in page


def test_a_streaming_card_does_not_call_an_unwritten_step_a_parse_failure() -> None:
    step = StepResult(index=1, text="x", verdict="unchecked", parse_status="failed")
    result = CritiqueResult(problem="p", steps=[step], first_error_step=None, model="m", backend="b", finished=False)
    assert "parse failed" not in critique_html(result, done=False)
    assert "parse failed" in critique_html(result, done=True)
