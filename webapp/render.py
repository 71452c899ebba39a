"""Safe HTML for user and model text: escaping, LaTeX segments, step cards, and a bleach allowlist pass.

Everything a user or a model wrote is escaped here before it reaches the page; the markup we emit is then
cleaned once more by bleach with a small allowlist (no links, no attributes but `class`/`id`/`open`), so
`<script>`, event handlers and `javascript:` URLs cannot survive. The page shows the result in a
`gr.Markdown` whose KaTeX auto-render draws `$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]`.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence

import bleach

from core.refine import StepChange
from core.types import CritiqueResult, StepResult

# Display delimiters first so `$$x$$` is not read as two inline segments (the browser uses this order too).
LATEX_DELIMITERS: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "$", "right": "$", "display": False},
]

ALLOWED_TAGS = frozenset(
    {
        "div",
        "span",
        "p",
        "b",
        "strong",
        "i",
        "em",
        "br",
        "code",
        "details",
        "summary",
        "h3",
        "h4",
        "table",
        "tr",
        "td",
        "th",
    }
)
ALLOWED_ATTRIBUTES = {
    "*": ["class", "id"],
    "details": ["open"],
    "span": ["class", "id", "role", "aria-label", "aria-valuenow", "aria-valuemin", "aria-valuemax", "title"],
}

# Math segments: display forms anywhere; inline `$...$` only with the pandoc rule (no space inside the
# delimiters, closing `$` not followed by a digit) so money amounts like "$5 and $3" stay text.
_MATH_RE = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<db>.+?)\\\]"
    r"|\\\((?P<ip>.+?)\\\)"
    r"|\$(?P<id>[^\s$](?:[^$]*?[^\s$\\])?)\$(?!\d)",
    re.DOTALL,
)

VERDICT_LABELS = {"correct": "✓ correct", "incorrect": "✗ incorrect", "unchecked": "… unchecked"}
CHECK_LABELS = {"verified": "symbolic ✓", "wrong": "symbolic ✗", "unchecked": "symbolic ?"}
# An annotator's rating of a critique (core.types.CritiqueRating) as the pages show it.
CRITIQUE_RATING_LABELS = {"helpful": "helpful", "partly": "partly helpful", "misleading": "misleading"}


def _escape_text(text: str) -> str:
    """Escape non-math text so that no delimiter survives as a literal character the browser could pair."""
    escaped = html.escape(text, quote=True)
    # Lone `$` and backslashes become entities in their own span: the LaTeX finder works on the raw string
    # and KaTeX auto-render on single text nodes, so neither can pair them with a `$` elsewhere.
    escaped = escaped.replace("$", '<span class="d">&#36;</span>').replace("\\", "&#92;")
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def _math_source(segment: str) -> str:
    """Math keeps its LaTeX; `<`/`>` become `\\lt`/`\\gt` so no tag can start inside it."""
    return segment.replace("<", "\\lt ").replace(">", "\\gt ")


class Fragment:
    """Collects escaped text with math segments held aside, so bleach never touches LaTeX source."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.math: list[str] = []

    def text(self, value: str | None) -> str:
        out: list[str] = []
        value = value or ""
        pos = 0
        for match in _MATH_RE.finditer(value):
            out.append(_escape_text(value[pos : match.start()]))
            self.math.append(_math_source(match.group(0)))
            out.append(f"MATH{self.nonce}X{len(self.math) - 1}X")
            pos = match.end()
        out.append(_escape_text(value[pos:]))
        return "".join(out)

    def finish(self, markup: str) -> str:
        cleaned = sanitize(markup)
        for index, source in enumerate(self.math):
            cleaned = cleaned.replace(f"MATH{self.nonce}X{index}X", source, 1)
        # No blank line may reach the markdown renderer: the block must stay one raw HTML block.
        return cleaned.replace("\n", " ")


def sanitize(markup: str) -> str:
    """The last line of defence: drop every tag and attribute not on the allowlist (no links at all)."""
    return bleach.clean(markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=[], strip=True)


def text_html(value: str, *, css_class: str = "critic-text") -> str:
    """One piece of user text as safe HTML (math rendered in the browser)."""
    frag = Fragment()
    return frag.finish(f'<div class="{css_class}">{frag.text(value)}</div>')


CONFIDENCE_STEPS = 20  # the bar's width moves in 5 % steps (CSS classes: no inline styles reach the page)


def confidence_bar(p_correct: float | None) -> str:
    """The model's P(step correct) as a small meter with a spoken label; empty when the model gave none.

    The label is also written as visually hidden text: the app's HTML sanitizer keeps `title` but not `aria-label`.
    """
    if p_correct is None:
        return ""
    try:
        value = float(p_correct)
    except (TypeError, ValueError):
        return ""
    if value != value:  # NaN: no reading
        return ""
    value = min(max(value, 0.0), 1.0)
    percent = round(value * 100)
    width = round(value * CONFIDENCE_STEPS)
    label = f"model confidence {percent} % correct"
    return (
        f'<span class="conf" role="meter" aria-label="{label}" title="{label}" aria-valuenow="{percent}" '
        f'aria-valuemin="0" aria-valuemax="100"><span class="conf-fill conf-w-{width}"></span></span>'
        f'<span class="conf-text">{percent} %</span><span class="sr-only">{label}</span>'
    )


SOURCE_BADGES = {"checker": "checker's proof", "model": "model's judgement", "both": "proof + model agree"}
JUDGED_AS = {"correct": "correct", "incorrect": "wrong"}


def _p(p_correct: float | None) -> str:
    """The model's P(step correct) as words: ', P(correct) = 0.44'; empty when it gave none."""
    if p_correct is None or p_correct != p_correct:
        return ""
    return f", P(correct) = {min(max(float(p_correct), 0.0), 1.0):.2f}"


def _doubted(step: StepResult) -> bool:
    """The model judged the step wrong, but the shown verdict is not 'wrong' (the checker's proof or the first wrong
    step it proved came first): that judgement is shown as the model's doubt, not as the verdict."""
    return step.model_verdict == "incorrect" and step.verdict != "incorrect"


def _source_line(frag: Fragment, step: StepResult) -> str:
    """Where the card's verdict comes from, in one line: the checker's proof with its reason, the model's judgement
    with its confidence, or both; and the model's overridden judgement as doubt. Empty while nothing is decided."""
    reason = frag.text(step.check.detail) if step.check is not None and step.check.detail else ""
    p = _p(step.p_correct)
    sentences: list[str] = []
    if step.verdict_source == "checker":
        sentences.append(f"<b>From the checker's proof</b>{': ' + reason if reason else ''}.")
        judged = JUDGED_AS.get(step.model_verdict or "")
        if judged and step.model_verdict != step.verdict and not _doubted(step):
            sentences.append(f"The model had judged it {judged}{p}.")
    elif step.verdict_source == "both":
        sentences.append(f"<b>The checker's proof and the model agree</b>{': ' + reason if reason else ''}.")
        if p:
            sentences.append(f"Model{p.removeprefix(',')}.")
    elif step.verdict_source == "model":
        sentences.append(f"<b>From the model's judgement</b>{p}; the checker proves nothing here.")
    if _doubted(step):
        sentences.append(f"The model doubts this step{p}.")
    return " ".join(sentences)


def _step_card(
    frag: Fragment, step: StepResult, *, first_error: int | None, show_votes: bool, done: bool = True
) -> str:
    classes = ["step-card", f"verdict-{step.verdict}"]
    if first_error is not None and step.index == first_error:
        classes.append("first-error")
    badges = [f'<span class="badge badge-{step.verdict}">{VERDICT_LABELS.get(step.verdict, step.verdict)}</span>']
    if first_error is not None and step.index == first_error:
        badges.append('<span class="badge badge-first-error">first wrong step</span>')
    if show_votes and step.vote_share is not None:
        badges.append(f'<span class="badge badge-votes">votes {step.vote_share:.0%}</span>')
    if step.verdict_source is not None:
        badges.append(
            f'<span class="badge badge-source-{step.verdict_source}">{SOURCE_BADGES[step.verdict_source]}</span>'
        )
    if _doubted(step):
        badges.append('<span class="badge badge-doubt">model doubts</span>')
    if step.check is not None:
        badges.append(
            f'<span class="badge badge-check-{step.check.status}">{CHECK_LABELS.get(step.check.status, "")}</span>'
        )
    # While the model is still writing, a step it has not reached yet is simply not judged yet.
    if done and step.parse_status != "ok":
        badges.append(f'<span class="badge badge-parse">parse {html.escape(step.parse_status)}</span>')
    badges.append(confidence_bar(step.p_correct))
    parts = [
        f'<div class="{" ".join(classes)}" id="step-{step.index}">',
        f'<div class="step-head"><span class="step-num">Step {step.index}</span> {" ".join(badges)}</div>',
        f'<div class="step-text">{frag.text(step.text)}</div>',
    ]
    if step.critique:
        parts.append(f'<div class="step-critique"><b>Critique.</b> {frag.text(step.critique)}</div>')
    if step.meta_critique:
        parts.append(
            '<details class="step-meta"><summary>Meta-critique</summary>'
            f'<div class="step-meta-text">{frag.text(step.meta_critique)}</div></details>'
        )
    source = _source_line(frag, step)
    if source:
        parts.append(f'<div class="step-source">{source}</div>')
    if step.check is not None and step.check.detail and step.verdict_source not in ("checker", "both"):
        who = "Checker" if step.check.status == "wrong" else "Checker note"
        parts.append(
            f'<div class="step-check step-check-{step.check.status}"><b>{who}:</b> {frag.text(step.check.detail)}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def _summary(result: CritiqueResult, *, done: bool) -> str:
    if not done:
        return '<div class="critic-summary running">Critiquing…</div>'
    if result.error:
        return f'<div class="critic-summary error">Not critiqued: {html.escape(result.error)}</div>'
    first = result.first_error_step
    if first is None:
        verdict = "The critic's output could not be read (no verdict)."
    elif first == -1:
        verdict = "The critic found no wrong step."
    else:
        verdict = f"First wrong step: <b>{first}</b>."
    extra = ""
    if result.samples > 1:
        votes = ", ".join("?" if v is None else str(v) for v in result.votes)
        extra = f" Votes of {result.samples} samples: {html.escape(votes)}."
    name = f"version {result.model_version}" if result.model_version else result.model
    model = html.escape(f"{name} ({result.backend}, {result.mode})")
    return f'<div class="critic-summary">{verdict}{extra} <span class="muted">Model: {model}</span></div>'


EMBEDDED_MODEL_NOTE = (
    "These critiques come from the small embedded model: its judgements are suggestions; the checker's proofs "
    "are reliable."
)
# Shown inside the app (no link: the page must work offline and the sanitizer keeps no links); docs/serving.md
# has the whole story.
STRONGER_MODEL_HOWTO = (
    "Serve a stronger critic (for example Qwen2.5-7B-Instruct or DeepCritic-7B) with `critic model serve --model "
    "PATH` or `vllm serve`, or use any OpenAI-compatible API, then start the app with `CRITIC_BACKEND=openai "
    "CRITIC_BASE_URL=http://HOST:8000/v1 CRITIC_MODEL=NAME critic serve`. A local checkpoint also works: "
    "`CRITIC_MODEL=/path/to/checkpoint critic serve`. Details: docs/serving.md in the project."
)


def model_note_html() -> str:
    """The one line a page shows under the embedded model: what its verdicts are worth, and how to do better."""
    frag = Fragment()
    # `...` spans of our own text become <code>; every piece is escaped like any other text.
    howto = "".join(
        f"<code>{html.escape(piece)}</code>" if n % 2 else frag.text(piece)
        for n, piece in enumerate(STRONGER_MODEL_HOWTO.split("`"))
    )
    return frag.finish(
        f'<div class="model-note" id="model-note">{frag.text(EMBEDDED_MODEL_NOTE)} '
        f'<details class="model-howto"><summary>How to connect a stronger model</summary> {howto}</details></div>'
    )


def critique_html(result: CritiqueResult, *, done: bool = True, model_note: bool = False) -> str:
    """The step cards of one (possibly partial) critique result, problem first; `model_note` adds the embedded
    model's note above the cards."""
    frag = Fragment()
    first_error = result.first_error_step if done and result.first_error_step not in (None, -1) else None
    cards = [
        _step_card(frag, s, first_error=first_error, show_votes=result.samples > 1, done=done) for s in result.steps
    ]
    markup = (
        '<div class="critic-result">'
        f'<div class="critic-problem"><b>Problem.</b> {frag.text(result.problem)}</div>'
        f"{_summary(result, done=done)}{''.join(cards)}</div>"
    )
    return (model_note_html() if model_note else "") + frag.finish(markup)


def many_results_html(results: Sequence[CritiqueResult], *, model_note: bool = False) -> str:
    """Several critique results one after another (file uploads); the embedded model's note once, on top."""
    items = "".join(
        f'<div class="critic-item"><h4>Item {i}{": " + html.escape(r.id) if r.id else ""}</h4>{critique_html(r)}</div>'
        for i, r in enumerate(results, start=1)
    )
    return (model_note_html() if model_note else "") + items


DIFF_LABELS = {"kept": "= kept", "changed": "~ changed", "added": "+ added", "removed": "− removed"}


def revision_html(diff: Sequence[StepChange], *, kept_steps: int, final_answer: str | None) -> str:
    """A revision as a step diff: kept, changed (old text struck under the new), added and removed steps."""
    frag = Fragment()
    if not any(row.status != "kept" for row in diff):
        summary = "The revision left the solution unchanged."
    else:
        summary = f"Kept the first {kept_steps} step(s); rewrote from step {kept_steps + 1} on."
    if final_answer:
        summary += f" Final answer: {frag.text(final_answer)}."
    cards = []
    for row in diff:
        index = row.after_index if row.after_index is not None else row.before_index
        parts = [
            f'<div class="step-card diff-{row.status}">',
            f'<div class="step-head"><span class="step-num">Step {index}</span> '
            f'<span class="badge badge-diff-{row.status}">{DIFF_LABELS[row.status]}</span></div>',
        ]
        if row.status in ("changed", "removed"):
            parts.append(f'<div class="step-before"><b>Before.</b> {frag.text(row.before)}</div>')
        if row.status != "removed":
            parts.append(f'<div class="step-text">{frag.text(row.after)}</div>')
        parts.append("</div>")
        cards.append("".join(parts))
    markup = f'<div class="critic-revision"><div class="critic-summary">{summary}</div>{"".join(cards)}</div>'
    return frag.finish(markup)


def markdown_html(text: str) -> str:
    """Admin-written markdown (campaign guidelines) as sanitised HTML: http(s) links only, no raw HTML."""
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": False}).render(text or "")
    return bleach.clean(
        rendered,
        tags=ALLOWED_TAGS | {"a", "ul", "ol", "li", "code", "pre", "h1", "h2", "blockquote", "hr"},
        attributes={"a": ["href", "title"]},
        protocols=["http", "https", "mailto"],
        strip=True,
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def md_escape(text: str) -> str:
    """User text inside a markdown string (a username in a heading): no markup, no HTML, no math.

    Markdown's characters are escaped first and HTML's after (`<`, `>`, `&`; quotes need nothing in text), so no
    backslash lands inside an entity: `o'brien` shows as written, not as `&#x27;`."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(text)), quote=False)


BAR_CELLS = 10


def text_progress(done: int, total: int, *, unit: str, seconds_left: float | None = None) -> str:
    """A progress bar in plain text (for table cells): filled cells, percent, counts and, while running, time left."""
    share = min(done / total, 1.0) if total > 0 else 0.0
    filled = round(share * BAR_CELLS)
    text = f"{'▰' * filled}{'▱' * (BAR_CELLS - filled)} {share:.0%} · {done} of {total} {unit}"
    if seconds_left is not None and done < total:
        text += f" · about {_duration(seconds_left)} left"
    return text


def _duration(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 1)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def message_html(message: str, *, kind: str = "info") -> str:
    """A plain status or error message box."""
    kind = kind if kind in {"info", "error", "ok", "warn"} else "info"
    return sanitize(f'<div class="critic-message {kind}">{_escape_text(message)}</div>')


PAGE_CSS = """
.critic-result, .critic-text { line-height: 1.5; }
.step-card { border: 1px solid #d0d7de; border-left: 6px solid #8c959f; border-radius: 8px; padding: 8px 12px;
  margin: 8px 0; background: var(--background-fill-primary); }
.step-card.verdict-correct { border-left-color: #1a7f37; }
.step-card.verdict-incorrect { border-left-color: #cf222e; }
.step-card.first-error { background: #fff1f0; box-shadow: 0 0 0 2px #cf222e inset; }
.step-head { font-weight: 600; margin-bottom: 4px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 0.85em; margin-left: 4px;
  background: #eaeef2; color: #24292f; font-weight: 500; }
.badge-correct { background: #dafbe1; color: #1a7f37; }
.badge-incorrect, .badge-first-error { background: #ffebe9; color: #cf222e; }
.badge-check-verified { background: #ddf4ff; color: #0969da; }
.badge-check-wrong { background: #fff8c5; color: #9a6700; }
.step-critique { margin-top: 4px; color: #57606a; }
.step-meta summary { cursor: pointer; color: #0969da; }
.critic-summary { font-size: 1.05em; margin: 6px 0; }
.critic-summary.error, .critic-message.error { color: #cf222e; }
.critic-message.ok { color: #1a7f37; }
.muted { color: #8c959f; font-size: 0.85em; }
.step-card.current-step { outline: 3px solid #0969da; }
.badge-rating-1 { background: #dafbe1; color: #1a7f37; }
.badge-rating-0 { background: #eaeef2; }
.badge-rating--1 { background: #ffebe9; color: #cf222e; }
.badge-flag { background: #fff8c5; color: #9a6700; }
.step-card.diff-changed { border-left-color: #9a6700; }
.step-card.diff-added { border-left-color: #1a7f37; }
.step-card.diff-removed { border-left-color: #cf222e; opacity: 0.7; }
.step-before { color: #8c959f; text-decoration: line-through; }
.kbd-help { font-size: 0.85em; color: #57606a; }
.conf { display: inline-block; width: 60px; height: 8px; border-radius: 4px; background: #eaeef2;
  margin-left: 8px; vertical-align: middle; overflow: hidden; }
.conf.wide { width: 240px; height: 12px; margin-left: 0; }
.conf-fill { display: block; height: 100%; background: #0969da; }
.conf-text { font-size: 0.8em; color: #57606a; margin-left: 4px; font-weight: 400; }
/* Read by screen readers, not shown: the page's HTML sanitizer drops aria-label. */
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.badge-model-verdict { background: #f6f8fa; color: #57606a; }
.badge-source-checker, .badge-source-both { background: #ddf4ff; color: #0969da; }
.badge-source-model { background: #f6f8fa; color: #57606a; }
.badge-doubt { background: #fff8c5; color: #9a6700; }
.step-source { margin-top: 4px; font-size: 0.92em; color: #24292f; }
.model-note { margin: 6px 0; padding: 6px 10px; border-radius: 6px; background: #f6f8fa; color: #24292f;
  font-size: 0.92em; }
.model-note summary { cursor: pointer; color: #0969da; display: inline; }
.step-check-wrong { color: #9a6700; }
.conflict-diff tr.differs td { background: #fff8c5; }
.conflict-diff td, .conflict-diff th { padding: 2px 8px; text-align: left; }
.badge-differs { background: #fff8c5; color: #9a6700; }
.step-comment { margin-top: 4px; padding: 2px 8px; border-left: 3px solid #0969da; background: #f6f8fa; }
"""
PAGE_CSS += "".join(f".conf-w-{i} {{ width: {i * 100 // CONFIDENCE_STEPS}%; }}\n" for i in range(CONFIDENCE_STEPS + 1))
