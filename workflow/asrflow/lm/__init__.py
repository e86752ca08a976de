"""Stage: lm."""
