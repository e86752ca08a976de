"""Stage: score."""
