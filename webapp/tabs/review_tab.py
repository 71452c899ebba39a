"""The review tab."""

from __future__ import annotations

import gradio as gr

from webapp.context import AppContext


def build(ctx: AppContext) -> None:
    gr.Markdown("Coming soon.")
