"""Stage: nnet (TDNN acoustic models trained with frame cross-entropy or CTC, and their export)."""
