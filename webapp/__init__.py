"""The Gradio web application (UI only: it calls core, db and training)."""
