"""Stage: lang."""
