"""Stage: gmm."""
