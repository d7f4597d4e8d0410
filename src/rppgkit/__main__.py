"""`python -m rppgkit` runs the command line."""

from rppgkit.cli import app

app(prog_name="rppgkit")
