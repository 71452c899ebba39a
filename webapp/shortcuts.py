"""Keyboard shortcuts of the annotation page: one table used both by the page script and the help text."""

from __future__ import annotations

import json

# key -> (button elem_id, what it does). Keys are ignored while typing in a text field.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "a": ("ann-accept", "accept the critic's verdict for the current step (stays on it)"),
    "A": ("ann-accept-all", "accept the critic's verdicts for all steps"),
    "+": ("ann-good", "rate the current step +1 (good; stays on it)"),
    "=": ("ann-good", "rate the current step +1 (good; stays on it)"),
    "0": ("ann-neutral", "rate the current step 0 (neutral; stays on it)"),
    "-": ("ann-bad", "rate the current step -1 (wrong; stays on it)"),
    "f": ("ann-flag", "flag / unflag the current step"),
    "1": ("ann-critique-helpful", "rate the critique helpful (again: clear)"),
    "2": ("ann-critique-partly", "rate the critique partly helpful (again: clear)"),
    "3": ("ann-critique-misleading", "rate the critique misleading (again: clear)"),
    "j": ("ann-next-step", "next step"),
    "k": ("ann-prev-step", "previous step"),
    "d": ("ann-save-draft", "save draft"),
    "s": ("ann-submit", "submit"),
    "u": ("ann-undo", "undo the last change"),
    "x": ("ann-skip", "skip this item"),
    "n": ("ann-next-item", "next item"),
    "p": ("ann-prev-item", "previous item (reopens it)"),
}


def shortcuts_markdown() -> str:
    """The help line shown on the annotation page."""
    seen: dict[str, list[str]] = {}
    for key, (_elem, text) in SHORTCUTS.items():
        seen.setdefault(text, []).append(key)
    return "**Keyboard:** " + " · ".join(f"`{' / '.join(keys)}` {text}" for text, keys in seen.items())


SHORTCUTS_JS = (
    "<script>\n(() => {\n  const keys = "
    + json.dumps({k: v[0] for k, v in SHORTCUTS.items()})
    + """;
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const id = keys[e.key];
    if (!id) return;
    const btn = document.getElementById(id);
    if (!btn || btn.offsetParent === null) return;  // only on the visible annotation tab
    e.preventDefault();
    btn.click();
  });
})();
</script>"""
)
