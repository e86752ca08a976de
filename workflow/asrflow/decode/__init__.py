"""Stage: decode."""
