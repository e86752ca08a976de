"""Build a Kaldi `lang/` directory (words/phones tables, L.fst, L_disambig.fst, topo) from a lexicon."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import kaldifst

from asrflow.common import AsrflowError, atomic_path
from asrflow.lang.lexicon import Lexicon, PronProbs

POSITIONS = ("_B", "_E", "_I", "_S")


@dataclass(frozen=True)
class LangConfig:
    """Knobs of `prepare_lang` (config section `lang`)."""

    silence_phones: tuple[str, ...] = ("SIL",)
    optional_silence: str = "SIL"
    oov_word: str = "<UNK>"
    oov_phone: str = "SPN"
    sil_prob: float = 0.5
    position_dependent: bool = False
    num_nonsil_states: int = 3
    num_sil_states: int = 5

    @classmethod
    def from_dict(cls, cfg: dict) -> "LangConfig":
        """Build from the `lang` config section, ignoring keys that belong to the lexicon source."""
        known = {k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg}
        if "silence_phones" in known:
            known["silence_phones"] = tuple(known["silence_phones"])
        return cls(**known)


def _with_position(pron: tuple[str, ...]) -> tuple[str, ...]:
    """Mark phones with their word position (_B/_I/_E, or _S for single-phone words) as Kaldi does."""
    if len(pron) == 1:
        return (pron[0] + "_S",)
    return (pron[0] + "_B", *(p + "_I" for p in pron[1:-1]), pron[-1] + "_E")


def _add_disambig(prons: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], int]:
    """Append #1, #2 … to homophones and prefix pronunciations (Kaldi's add_lex_disambig); return max index."""
    counts: dict[tuple[str, ...], int] = {}
    prefixes: set[tuple[str, ...]] = set()
    for p in prons:
        counts[p] = counts.get(p, 0) + 1
        prefixes.update(p[:i] for i in range(1, len(p)))
    used: dict[tuple[str, ...], int] = {}
    out = []
    for p in prons:
        if counts[p] > 1 or p in prefixes:
            used[p] = used.get(p, 0) + 1
            out.append((*p, f"#{used[p]}"))
        else:
            out.append(p)
    return out, max(used.values(), default=0)


def _topo(nonsil: list[int], sil: list[int], n_nonsil: int, n_sil: int) -> str:
    """Kaldi HMM topology text: left-to-right for speech phones, ergodic middle states for silence."""
    lines = ["<Topology>", "<TopologyEntry>", "<ForPhones>", " ".join(map(str, nonsil)), "</ForPhones>"]
    for s in range(n_nonsil):
        lines.append(f"<State> {s} <PdfClass> {s} <Transition> {s} 0.75 <Transition> {s + 1} 0.25 </State>")
    lines += [f"<State> {n_nonsil} </State>", "</TopologyEntry>"]
    lines += ["<TopologyEntry>", "<ForPhones>", " ".join(map(str, sil)), "</ForPhones>"]
    last = n_sil - 1
    p = 1.0 / last  # each ergodic state has `last` transitions (Kaldi's gen_topo.pl: 1 / (num_sil_states - 1))
    lines.append(
        "<State> 0 <PdfClass> 0 " + " ".join(f"<Transition> {t} {p:g}" for t in range(last)) + " </State>"
    )
    for s in range(1, last):
        lines.append(
            f"<State> {s} <PdfClass> {s} " + " ".join(f"<Transition> {t} {p:g}" for t in range(1, n_sil)) + " </State>"
        )
    lines.append(f"<State> {last} <PdfClass> {last} <Transition> {last} 0.75 <Transition> {n_sil} 0.25 </State>")
    lines += [f"<State> {n_sil} </State>", "</TopologyEntry>", "</Topology>"]
    return "\n".join(lines) + "\n"


def _lexicon_fst_text(
    entries: list[tuple[str, tuple[str, ...]]],
    sil: str,
    sil_prob: float,
    word0_loop: bool,
    pron_costs: list[float] | None = None,
) -> str:
    """OpenFST text of L with optional silence between words (Kaldi's make_lexicon_fst semantics); `pron_costs`
    (-ln of each entry's pronunciation probability) go on the entry's last arc."""
    sil_cost, no_sil_cost = -math.log(sil_prob), -math.log(1.0 - sil_prob)
    start, loop, sil_state = 0, 1, 2
    arcs = [
        f"{start} {loop} <eps> <eps> {no_sil_cost}",
        f"{start} {sil_state} <eps> <eps> {sil_cost}",
        f"{sil_state} {loop} {sil} <eps> 0",
    ]
    nxt = 3
    for k, (word, pron) in enumerate(entries):
        pron_cost = pron_costs[k] if pron_costs else 0.0
        src = loop
        for i, ph in enumerate(pron[:-1]):
            arcs.append(f"{src} {nxt} {ph} {word if i == 0 else '<eps>'} 0")
            src, nxt = nxt, nxt + 1
        out = word if len(pron) == 1 else "<eps>"
        arcs.append(f"{src} {loop} {pron[-1]} {out} {no_sil_cost + pron_cost}")
        arcs.append(f"{src} {sil_state} {pron[-1]} {out} {sil_cost + pron_cost}")
    if word0_loop:
        arcs.append(f"{loop} {loop} #0 #0 0")
    arcs.append(f"{loop} 0")
    return "\n".join(arcs) + "\n"


def _symbol_table(symbols: list[str]) -> kaldifst.SymbolTable:
    """A kaldifst symbol table numbering `symbols` in order."""
    table = kaldifst.SymbolTable()
    for i, s in enumerate(symbols):
        table.add_symbol(s, i)
    return table


def _compile(text: str, isyms: list[str], osyms: list[str], path: Path) -> None:
    """Compile OpenFST text with the given tables, sort arcs by output label and write it binary."""
    fst = kaldifst.compile(text, isymbols=_symbol_table(isyms), osymbols=_symbol_table(osyms))
    kaldifst.arcsort(fst, sort_type="olabel")
    fst.write(str(path))


def _write_list(path: Path, items: list[str], ids: dict[str, int]) -> None:
    """Write `items` to `path` (.txt) and their integer ids to the matching `.int` file."""
    path.write_text("".join(f"{x}\n" for x in items))
    path.with_suffix(".int").write_text("".join(f"{ids[x]}\n" for x in items))


def prepare_lang(lexicon: Lexicon, out_dir: Path, cfg: LangConfig, extra: dict[str, Path] | None = None,
                 probs: PronProbs | None = None) -> None:
    """Write a complete, validated Kaldi lang directory for `lexicon` to `out_dir` atomically; `extra` files
    (name -> written file, e.g. the G2P model) are moved in with it; `probs` (pronunciation probabilities, entries
    without one count 1.0) weight L's pronunciations and are kept as lexiconp.txt."""
    words_in = {w for w, _ in lexicon}
    add_oov = bool(cfg.oov_word) and cfg.oov_word not in words_in
    lex = [*lexicon, *([(cfg.oov_word, (cfg.oov_phone,))] if add_oov else [])]
    base_sil = list(dict.fromkeys([*cfg.silence_phones, *([cfg.oov_phone] if add_oov else [])]))
    if cfg.optional_silence not in base_sil:
        raise AsrflowError(f"lang.optional_silence {cfg.optional_silence!r} must be one of lang.silence_phones")
    for word in ("<eps>", "#0", "<s>", "</s>"):
        if word in words_in:
            raise AsrflowError(f"the lexicon must not contain the reserved word {word!r}")
    base_nonsil = sorted({p for _, pron in lex for p in pron} - set(base_sil))

    def variants(p: str) -> list[str]:
        """The phones that base phone `p` expands to (silence keeps its bare form too, as in Kaldi)."""
        if not cfg.position_dependent:
            return [p]
        return [*([p] if p in base_sil else []), *(p + s for s in POSITIONS)]

    sets = [variants(p) for p in [*base_sil, *base_nonsil]]
    sil_phones = [v for s in sets[: len(base_sil)] for v in s]
    nonsil_phones = [v for s in sets[len(base_sil):] for v in s]
    prons = [_with_position(pron) if cfg.position_dependent else pron for _, pron in lex]
    prons_d, max_disambig = _add_disambig(prons)
    disambig = [f"#{i}" for i in range(max_disambig + 1)]
    phones = ["<eps>", *sil_phones, *nonsil_phones, *disambig]
    words = ["<eps>", *sorted({w for w, _ in lex}), "#0", "<s>", "</s>"]
    phone_id = {p: i for i, p in enumerate(phones)}
    word_id = {w: i for i, w in enumerate(words)}

    with atomic_path(out_dir) as tmp:
        (tmp / "phones").mkdir(parents=True)
        for name, path in (extra or {}).items():
            shutil.move(path, tmp / name)
        (tmp / "words.txt").write_text("".join(f"{w} {i}\n" for i, w in enumerate(words)))
        (tmp / "phones.txt").write_text("".join(f"{p} {i}\n" for i, p in enumerate(phones)))
        (tmp / "lexicon.txt").write_text("".join(f"{w} {' '.join(p)}\n" for (w, _), p in zip(lex, prons)))
        (tmp / "oov.txt").write_text(f"{cfg.oov_word}\n" if cfg.oov_word else "")
        (tmp / "oov.int").write_text(f"{word_id[cfg.oov_word]}\n" if cfg.oov_word else "")
        _write_list(tmp / "phones/silence.txt", sil_phones, phone_id)
        _write_list(tmp / "phones/nonsilence.txt", nonsil_phones, phone_id)
        _write_list(tmp / "phones/optional_silence.txt", [cfg.optional_silence], phone_id)
        _write_list(tmp / "phones/disambig.txt", disambig, phone_id)
        _write_list(tmp / "phones/context_indep.txt", sil_phones, phone_id)
        (tmp / "phones/sets.txt").write_text("".join(" ".join(s) + "\n" for s in sets))
        (tmp / "phones/sets.int").write_text("".join(" ".join(str(phone_id[p]) for p in s) + "\n" for s in sets))
        if cfg.position_dependent:
            kinds = {"_B": "begin", "_E": "end", "_I": "internal", "_S": "singleton"}
            (tmp / "phones/word_boundary.txt").write_text(
                "".join(f"{p} {'nonword' if p in sil_phones else kinds[p[-2:]]}\n" for p in sil_phones + nonsil_phones)
            )
        (tmp / "topo").write_text(
            _topo([phone_id[p] for p in nonsil_phones], [phone_id[p] for p in sil_phones],
                  cfg.num_nonsil_states, cfg.num_sil_states)
        )
        costs = [-math.log((probs or {}).get(entry, 1.0)) for entry in lex] if probs else None
        if probs:
            (tmp / "lexiconp.txt").write_text("".join(f"{w} {probs.get((w, base), 1.0):g} {' '.join(p)}\n"
                                                      for (w, base), p in zip(lex, prons)))
        entries = [(w, p) for (w, _), p in zip(lex, prons)]
        _compile(_lexicon_fst_text(entries, cfg.optional_silence, cfg.sil_prob, False, costs),
                 phones, words, tmp / "L.fst")
        entries_d = [(w, p) for (w, _), p in zip(lex, prons_d)]
        _compile(_lexicon_fst_text(entries_d, cfg.optional_silence, cfg.sil_prob, True, costs),
                 phones, words, tmp / "L_disambig.fst")
