"""Rendering: user and model text is inert HTML, LaTeX survives for the browser, money is not math."""

from __future__ import annotations

from html import unescape

import pytest

from core.types import CritiqueResult, StepCheck, StepResult
from tests.webapp.conftest import INJECTIONS, assert_inert
from webapp.render import critique_html, many_results_html, markdown_html, text_html
from webapp.render_labels import annotation_html
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
        step_comments={"2": "=SUM(A1) " + INJECTIONS[0]},
    )
    page = student_page(row.student, [row])
    assert "<script>" not in page and "<img" not in page and "&lt;b&gt;Eve&lt;/b&gt;" in page
    csv_text = report_csv([row])
    assert csv_text.splitlines()[0] == "student,problem,first_wrong_step,comment,step_comments,points,points_possible"
    assert "'=HYPERLINK" in csv_text
    assert "step 2: =SUM(A1)" in csv_text  # not at a cell's start: text already


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


def _card(**fields: object) -> str:
    """The page of a one-step result whose step has these fields (the step's own text: 'Step text.')."""
    step = StepResult(index=1, text="Step text.", **fields)  # type: ignore[arg-type]
    first = 1 if step.verdict == "incorrect" else -1
    return critique_html(CritiqueResult(problem="p", steps=[step], first_error_step=first, model="m", backend="b"))


def test_a_verdict_the_checker_proved_names_the_proof_and_its_reason() -> None:
    page = _card(
        verdict="incorrect",
        verdict_source="checker",
        model_verdict="correct",
        p_correct=0.83,
        check=StepCheck(status="wrong", detail="20 − 12 = 9 is false (20 − 12 = 8)"),
    )
    assert "✗ incorrect" in page and "checker's proof</span>" in page
    assert "<b>From the checker's proof</b>: 20 − 12 = 9 is false (20 − 12 = 8)." in page
    assert "The model had judged it correct, P(correct) = 0.83." in page
    assert page.count("20 − 12 = 9 is false") == 1  # the reason once, in the provenance line
    assert "model confidence 83 % correct" in page


def test_a_verdict_of_the_model_alone_says_so_with_its_confidence() -> None:
    page = _card(verdict="incorrect", verdict_source="model", model_verdict="incorrect", p_correct=0.31)
    assert "model's judgement</span>" in page
    assert "<b>From the model's judgement</b>, P(correct) = 0.31; the checker proves nothing here." in page
    assert "doubts" not in page


def test_a_verdict_both_agree_on_names_the_proof_and_the_models_confidence() -> None:
    page = _card(
        verdict="correct",
        verdict_source="both",
        model_verdict="correct",
        p_correct=0.9,
        check=StepCheck(status="verified", detail="6 * 2 = 12 holds"),
    )
    assert "proof + model agree</span>" in page
    assert "<b>The checker's proof and the model agree</b>: 6 * 2 = 12 holds. Model P(correct) = 0.90." in page
    assert "Checker note" not in page


def test_a_models_overridden_wrong_verdict_is_shown_as_doubt_with_its_probability() -> None:
    proved = _card(
        verdict="correct",
        verdict_source="checker",
        model_verdict="incorrect",
        p_correct=0.44,
        check=StepCheck(status="verified", detail="3 * 1 = 3 holds"),
    )
    assert "✓ correct" in proved and "model doubts</span>" in proved
    assert "<b>From the checker's proof</b>: 3 * 1 = 3 holds. The model doubts this step, P(correct) = 0.44." in proved
    assert "had judged" not in proved
    # After the checker's first wrong step the model's earlier doubt stays on its own step, unjudged.
    unjudged = _card(verdict="unchecked", model_verdict="incorrect", p_correct=0.44)
    assert "The model doubts this step, P(correct) = 0.44." in unjudged and "✗ incorrect" not in unjudged


def test_a_step_nobody_judged_has_no_provenance_line_but_keeps_the_checkers_note() -> None:
    page = _card(verdict="unchecked", check=StepCheck(status="unchecked", detail="no equation to check"))
    assert "step-source" not in page
    assert "<b>Checker note:</b> no equation to check" in page


def test_provenance_lines_keep_latex_and_escape_the_checkers_reason() -> None:
    page = _card(
        verdict="incorrect",
        verdict_source="checker",
        check=StepCheck(status="wrong", detail=r"$\frac{1}{2} = 3$ is false <script>alert(1)</script>"),
    )
    assert r"$\frac{1}{2} = 3$" in page
    assert_inert(page)


def test_the_embedded_models_note_is_said_once_with_how_to_connect_a_stronger_model() -> None:
    step = StepResult(index=1, text="x", verdict="correct")
    result = CritiqueResult(problem="p", steps=[step], first_error_step=-1, model="embedded", backend="b")
    page = critique_html(result, model_note=True)
    assert page.count('id="model-note"') == 1
    assert "its judgements are suggestions; the checker's proofs are reliable" in unescape(page)
    assert "How to connect a stronger model" in page and "<code>CRITIC_BACKEND=openai" in page
    assert "docs/serving.md" in page
    assert_inert(page)
    assert "model-note" not in critique_html(result)
    assert many_results_html([result, result], model_note=True).count('id="model-note"') == 1


def test_a_streaming_card_does_not_call_an_unwritten_step_a_parse_failure() -> None:
    step = StepResult(index=1, text="x", verdict="unchecked", parse_status="failed")
    result = CritiqueResult(problem="p", steps=[step], first_error_step=None, model="m", backend="b", finished=False)
    assert "parse failed" not in critique_html(result, done=False)
    assert "parse failed" in critique_html(result, done=True)
