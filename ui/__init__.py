"""The Gradio chat UI (imports rag; rag never imports ui)."""
