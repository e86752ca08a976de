"""CLI of the lang stage: lexicon (Kaldi file, Sphinx dictionary, CMUdict, graphemes or BPE pieces) + training text
→ lang dir."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, get_logger, parse_json_arg, read_kaldi_table
from asrflow.lang.bpe import bpe_lexicon, train_bpe
from asrflow.lang.g2p import G2P, G2PConfig
from asrflow.lang.lexicon import (Lexicon, PronProbs, check_oov, cmudict_entries, cmudict_lexicon, find_oov,
                                  grapheme_lexicon, read_lexicon_probs, read_sphinx_dict)
from asrflow.lang.prepare import LangConfig, prepare_lang

log = get_logger("asrflow.lang")
SOURCES = ("file", "sphinx", "cmudict", "grapheme", "bpe")
OOV_POLICIES = ("error", "unk", "g2p")
G2P_MODEL, G2P_LEXICON, BPE_MODEL = "g2p.arpa", "g2p_lexicon.txt", "bpe.model"


def load_lexicon(cfg: dict, texts: dict[str, str], work: Path) -> tuple[Lexicon, PronProbs, dict[str, Path]]:
    """The lexicon named by the `lexicon` config section, its pronunciation probabilities (a lexiconp file's) and
    files to keep in the lang dir (the BPE model); CMUdict, graphemes and BPE cover exactly the training words."""
    source = cfg.get("source")
    words = {w for t in texts.values() for w in t.split()}
    if source == "file":
        return (*read_lexicon_probs(Path(cfg["path"])), {})
    if source == "sphinx":
        return read_sphinx_dict(Path(cfg["path"])), {}, {}
    if source == "cmudict":
        return cmudict_lexicon(words, strict=cfg.get("oov", "error") == "error"), {}, {}
    if source == "grapheme":
        return grapheme_lexicon(words), {}, {}
    if source == "bpe":
        model = train_bpe(list(texts.values()), int((cfg.get("bpe") or {}).get("vocab_size", 100)), work / "bpe")
        return bpe_lexicon(words, model), {}, {BPE_MODEL: model}
    raise AsrflowError(f"lexicon.source must be one of {', '.join(SOURCES)}, got {source!r}")


def g2p_pronunciations(cfg: dict, lexicon: Lexicon, oov: list[str], dropped: set[str],
                       work: Path) -> tuple[Lexicon, dict[str, Path]]:
    """Pronounce `oov` with a G2P trained on the source dictionary (all of CMUdict for source cmudict, else the
    lexicon itself); return the new entries and the files to keep in the lang dir (model, generated entries)."""
    g2p_cfg = dict(cfg.get("g2p") or {})
    train_words = int(g2p_cfg.pop("train_words", 20000))
    train = [e for e in cmudict_entries() if e[0] not in dropped] if cfg.get("source") == "cmudict" else lexicon
    step = max(1, -(-len(train) // train_words))
    model = G2P.train(train[::step], work / G2P_MODEL, G2PConfig(**g2p_cfg))
    entries = [(w, model.pronounce(w)) for w in oov]
    (work / G2P_LEXICON).write_text("".join(f"{w} {' '.join(p)}\n" for w, p in entries), encoding="utf-8")
    log.info("G2P pronounced %d OOV word(s) (review %s): %s", len(entries), G2P_LEXICON,
             "; ".join(f"{w} {' '.join(p)}" for w, p in entries[:20]))
    return entries, {G2P_MODEL: work / G2P_MODEL, G2P_LEXICON: work / G2P_LEXICON}


def cmd_prepare(args: argparse.Namespace) -> None:
    """Build the lang dir; OOV words of the training transcripts are an error, map to the OOV word (oov: unk), or
    get G2P pronunciations (oov: g2p, written to g2p_lexicon.txt in the lang dir)."""
    texts = read_kaldi_table(args.train_text)
    cfg = parse_json_arg(args.lexicon, "--lexicon")
    policy = cfg.get("oov", "error")
    if policy not in OOV_POLICIES:
        raise AsrflowError(f"lexicon.oov must be one of {', '.join(OOV_POLICIES)}, got {policy!r}")
    dropped = set(cfg.get("drop") or ())
    lang = LangConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    with tempfile.TemporaryDirectory() as work:
        loaded, probs, extra = load_lexicon(cfg, texts, Path(work))
        lexicon = [e for e in loaded if e[0] not in dropped]
        if policy == "error":
            check_oov(lexicon, texts, f"the training transcripts {args.train_text}")
        elif policy == "g2p":
            if oov_words := sorted(find_oov(lexicon, texts)):
                entries, g2p_files = g2p_pronunciations(cfg, lexicon, oov_words, dropped, Path(work))
                lexicon, extra = [*lexicon, *entries], {**extra, **g2p_files}
        elif oov := find_oov(lexicon, texts):
            if not lang.oov_word:
                raise AsrflowError("lexicon.oov is unk but lang.oov_word is empty: name the OOV word (e.g. <UNK>)")
            log.warning("%d OOV word(s) in %s map to %s: %s", len(oov), args.train_text, lang.oov_word,
                        " ".join(sorted(oov)[:30]))
        prepare_lang(lexicon, args.out, lang, extra, probs)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.lang`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.lang", description=__doc__)
    parser.add_argument("--lexicon", required=True, help="lexicon config as JSON ({source, path, oov})")
    parser.add_argument("--cfg", required=True, help="lang config as JSON")
    parser.add_argument("--train-text", type=Path, required=True, help="Kaldi text file of the training part")
    parser.add_argument("--out", type=Path, required=True, help="lang directory to write")
    parser.set_defaults(func=cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.lang", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
