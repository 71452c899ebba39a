"""Keyboard shortcuts of the annotation and review pages: one table each, used by the page script and the help text."""

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

# The Review tab's bulk decisions; a key may mean one thing per tab: the script clicks the visible button.
REVIEW_SHORTCUTS: dict[str, tuple[str, str]] = {
    "r": ("rev-refresh", "apply the filter (list again)"),
    "*": ("rev-select-all", "select every listed row"),
    "c": ("rev-select-none", "clear the selection"),
    "Y": ("rev-bulk-approve", "approve the selected rows"),
    "R": ("rev-bulk-reject", "reject the selected rows (type the reason first)"),
}


def shortcuts_markdown(table: dict[str, tuple[str, str]] = SHORTCUTS) -> str:
    """The help line shown on a page with these shortcuts."""
    seen: dict[str, list[str]] = {}
    for key, (_elem, text) in table.items():
        seen.setdefault(text, []).append(key)
    return "**Keyboard:** " + " · ".join(f"`{' / '.join(keys)}` {text}" for text, keys in seen.items())


def _buttons_by_key() -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for table in (SHORTCUTS, REVIEW_SHORTCUTS):
        for key, (elem, _text) in table.items():
            keys.setdefault(key, []).append(elem)
    return keys


SHORTCUTS_JS = (
    "<script>\n(() => {\n  const keys = "
    + json.dumps(_buttons_by_key())
    + """;
  // Typing in a text field is never a shortcut; a ticked checkbox keeps the keyboard (filters, then keys).
  const choosing = new Set(['checkbox', 'radio', 'button', 'submit']);
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && ((t.tagName === 'INPUT' && !choosing.has(t.type)) || t.tagName === 'TEXTAREA' || t.isContentEditable)) {
      return;
    }
    const ids = keys[e.key];
    if (!ids) return;
    // Only the button on the visible tab.
    const btn = ids.map((id) => document.getElementById(id)).find((b) => b && b.offsetParent !== null);
    if (!btn) return;
    e.preventDefault();
    btn.click();
  });
})();
</script>"""
)
