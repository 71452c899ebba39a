"""Gradio layout of each tab: components and event wiring only; the work happens in webapp.handlers."""
