"""``rag ui``: the chat UI's command, registered with the ``rag`` command line through the
``rag.commands`` entry point (pyproject.toml), so that ``rag`` never imports ``ui``."""

from __future__ import annotations

import sys

import click

from rag.cli import edge, pipeline_of


@click.command(name="ui")
@click.option("--host", default=None, help="Interface to bind (default: RAG_UI_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: RAG_UI_PORT, 7860).")
@click.pass_context
@edge
def ui_cmd(ctx, host, port) -> None:
    """Start the chat UI (Gradio) at http://HOST:PORT; builds the index first if there is none."""
    from .app import create_app, launch  # gradio loads only when the UI starts

    pipe = pipeline_of(ctx)
    settings = pipe.settings.ui
    host = host or settings.ui_host
    port = port or settings.ui_port
    if host not in ("127.0.0.1", "localhost", "::1") and not (settings.ui_username and settings.ui_password):
        click.echo(f"warning: serving on {host} without a password; set RAG_UI_USERNAME and RAG_UI_PASSWORD", err=True)
    app = create_app(pipe)
    _warm_topics(pipe)
    click.echo(f"Chat UI on http://{host}:{port} (Ctrl+C to stop)", err=True)
    try:
        launch(app, settings, host, port, quiet=True)
    except OSError as e:
        click.echo(f"error: cannot serve on {host}:{port}: {e}", err=True)
        sys.exit(1)


def _warm_topics(pipe) -> None:
    """Compute the topics in the background if the index changed since they were stored (the Map
    tab, the topic filter and the topic line under answers use them)."""
    import threading

    def run() -> None:
        try:
            pipe.topics()
        except Exception as e:  # the Map tab reports it when opened
            click.echo(f"warning: topics not computed: {e}", err=True)

    threading.Thread(target=run, name="topics", daemon=True).start()
