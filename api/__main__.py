"""`python -m api ...` is the `dispatch` command."""

from api.cli import app

app()
