"""asrflow: a Kaldi-style hybrid ASR pipeline; one subpackage per pipeline stage."""

__version__ = "0.1.0"
