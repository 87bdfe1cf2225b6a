"""The app: the view, the studio's logic (no Gradio), its widgets, events and named API."""
