"""Shared plumbing for every stage: user-facing errors, atomic outputs, logging, progress."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import numpy as np

T = TypeVar("T")


class AsrflowError(Exception):
    """An error caused by the user's input (data, config, lexicon); its message names the culprit and the fix."""


def get_logger(name: str) -> logging.Logger:
    """Return a logger that writes `time stage: message` lines to stderr (Snakemake captures them in `log:`)."""
    logger = logging.getLogger(name)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds.

    Works for files and directories, so an interrupted job never leaves a target that looks finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if not target.exists():
            raise RuntimeError(f"atomic_path: the block did not create {target}")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj: object) -> None:
    """Write `obj` as indented JSON to `path` atomically (training logs, decode info)."""
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def save_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> None:
    """Write named arrays (alignments, transforms) as one compressed .npz, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an .npz written by `save_arrays`; a missing file names the stage to run."""
    if not Path(path).is_file():
        raise AsrflowError(f"{path} is missing: train the stage that writes it first")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def progress(items: Iterable[T], total: int, logger: logging.Logger, what: str, every_s: float = 10.0) -> Iterator[T]:
    """Yield `items`, logging `what: i/total` at most every `every_s` seconds and at the end."""
    start = last = time.monotonic()
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_s:
            logger.info("%s: %d/%d (%.0fs)", what, i, total, now - start)
            last = now
    logger.info("%s: %d/%d done (%.1fs)", what, i, total, time.monotonic() - start)


def cli_main(prog: str, parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse arguments and run `args.func(args)`; user errors print one line to stderr and exit 1."""
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except AsrflowError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    return 0


def parse_json_arg(text: str, what: str) -> dict:
    """Decode a JSON object given on the command line (the rules pass config sections this way)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise AsrflowError(f"{what} is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise AsrflowError(f"{what} must be a JSON object, got {text!r}")
    return value


def read_fields(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """Yield (line number, line, whitespace-split fields) of a Kaldi text file's non-blank lines."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise AsrflowError(f"cannot read {path}: {e.strerror}") from e
    for lineno, line in enumerate(lines, 1):
        if fields := line.split():
            yield lineno, line, fields


def read_kaldi_table(path: Path) -> dict[str, str]:
    """Read a Kaldi `key value...` file (text, utt2spk) into {key: rest of line}; a line may hold only the key."""
    table: dict[str, str] = {}
    for lineno, _, fields in read_fields(path):
        if fields[0] in table:
            raise AsrflowError(f"{path}:{lineno}: duplicate utterance id {fields[0]}")
        table[fields[0]] = " ".join(fields[1:])
    return table
