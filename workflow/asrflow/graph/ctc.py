"""CTC decoding graphs built with OpenFST (kaldifst): H, HL = H ∘ min(det(L)) and HLG = H ∘ min(det(L ∘ G)), L
with its optional silence repeatable.

These OpenFST graphs are the single source of every CTC graph; `asrflow.graph.k2graph` converts them for k2.

Label conventions:
- CTC tokens are blank (0) plus the lang dir's real phones, with token id = phone id: a network with
  `num_ctc_outputs(lang)` outputs scores phone `p` in column `p` and blank in column 0.
- Input labels are token id + 1 (blank is input 1), because kaldi_decoder's `DecodableCtc` scores input label
  `i` on frame `t` with `log_probs[t, i - 1]`: labels are one-based so that 0 stays OpenFST's epsilon.
- Output labels are phone ids for H (blank and repeats output 0, epsilon) and word ids for HL and HLG.
"""

from __future__ import annotations

from pathlib import Path

import kaldifst

from asrflow.common import AsrflowError, atomic_path, get_logger
from asrflow.graph.hclg import compose_lg, relabel_inputs
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.graph")


def ctc_tokens(lang: LangDir) -> list[int]:
    """Sorted ids of the real phones (phones.txt less <eps> and #0…#K): the non-blank CTC tokens."""
    disambig = set(lang.disambig)
    tokens = sorted(i for i in lang.id2phone if i != 0 and i not in disambig)
    if not tokens:
        raise AsrflowError(f"{lang.path}/phones.txt has no phones; rebuild the lang dir")
    if disambig and min(disambig) < tokens[-1]:
        raise AsrflowError(f"{lang.path}/phones.txt numbers a disambiguation symbol before a real phone, so phone ids "
                           "cannot be CTC output indices; rebuild the lang dir with asrflow.lang (it puts #0… last)")
    return tokens


def num_ctc_outputs(lang: LangDir) -> int:
    """Output size of a CTC network for this lang dir: largest real phone id + 1 (column 0 is blank)."""
    return ctc_tokens(lang)[-1] + 1


def ctc_topo(max_token: int, modified: bool = False) -> kaldifst.StdVectorFst:
    """CTC topology H from frame labels (input token + 1) to the collapsed token string (output token, blank = 0).

    Standard: a state per token (the previous frame's token), all final, start in blank's; a frame of token k goes
    to state k and outputs k unless it repeats the previous frame or is blank, so a doubled token needs a blank
    between. Modified (k2's `modified=True`): a blank state (start and only final) plus a state per token; a token
    takes one frame (back to the blank state) or enters its state, loops and leaves on its last frame, so doubled
    tokens need no blank and H has O(V) arcs, but it maps some frame strings to several token strings.
    """
    fst = kaldifst.StdVectorFst()
    for _ in range(max_token + 1):
        fst.add_state()
    fst.start = 0
    if modified:
        fst.set_final(0, 0.0)
        fst.add_arc(0, kaldifst.StdArc(1, 0, 0.0, 0))
        for k in range(1, max_token + 1):
            fst.add_arc(0, kaldifst.StdArc(k + 1, k, 0.0, 0))
            fst.add_arc(0, kaldifst.StdArc(k + 1, k, 0.0, k))
            fst.add_arc(k, kaldifst.StdArc(k + 1, 0, 0.0, k))
            fst.add_arc(k, kaldifst.StdArc(k + 1, 0, 0.0, 0))
    else:
        for prev in range(max_token + 1):
            fst.set_final(prev, 0.0)
            for k in range(max_token + 1):
                fst.add_arc(prev, kaldifst.StdArc(k + 1, 0 if k == prev else k, 0.0, k))
    kaldifst.arcsort(fst, sort_type="ilabel")
    return fst


def make_h(lang: LangDir, modified: bool = False) -> kaldifst.StdVectorFst:
    """H alone over the lang dir's tokens: decodes frames to phone ids (phone-level decoding without a lexicon)."""
    return ctc_topo(num_ctc_outputs(lang) - 1, modified)


def repeatable_silence(lang: LangDir) -> kaldifst.StdVectorFst:
    """L_disambig whose optional silence may repeat: a SIL:<eps> self-loop wherever an optional SIL:<eps> arc starts.

    A CTC net can emit the silence token twice in one pause with blanks between (`SSS----SSS`); with a single
    optional silence between words, L reads that as SIL, a word, SIL and the decoder inserts a one-frame word
    (yesno, seed-0 `ctc` net). Silence repeated is still one pause, so CTC graphs accept it at the same cost.
    """
    lfst = lang.lexicon_fst(disambig=True)
    sil = lang.optional_silence
    for state in [s for s in kaldifst.StateIterator(lfst)
                  if any(a.ilabel == sil and a.olabel == 0 for a in kaldifst.ArcIterator(lfst, s))]:
        lfst.add_arc(state, kaldifst.StdArc(sil, 0, 0.0, state))
    return lfst


def lexicon_loop(lang: LangDir) -> kaldifst.StdVectorFst:
    """min(det(L_disambig)) without its #0:#0 loop (that loop only serves G's backoff): any word string, no LM."""
    lfst = repeatable_silence(lang)
    word0 = lang.words.get("#0")
    for state in kaldifst.StateIterator(lfst):
        arcs = list(kaldifst.ArcIterator(lfst, state))
        if any(a.olabel == word0 for a in arcs):
            lfst.delete_arcs(state, len(arcs))
            for a in arcs:
                if a.olabel != word0:
                    lfst.add_arc(state, a)
    kaldifst.determinize_star(lfst, use_log=True)
    kaldifst.minimize_encoded(lfst)
    kaldifst.arcsort(lfst, sort_type="ilabel")
    return lfst


def make_hlg(lang: LangDir, g: kaldifst.StdVectorFst | None, modified: bool = False) -> kaldifst.StdVectorFst:
    """H ∘ min(det(L ∘ G)) from frames to words (g=None: H ∘ min(det(L)), the lexicon loop without an LM).

    L is `repeatable_silence(lang)`: the lang dir's L_disambig with its optional silence repeatable.

    As Kaldi's mkgraph.sh: H gets #k:#k self-loops so the disambiguation symbols of LG survive composition and
    keep H ∘ LG determinizable; after determinization they become epsilon, then eps:eps arcs are removed and the
    graph is minimized. With a modified topology H ∘ LG is not functional, so it is neither determinized nor
    minimized. Arcs with input epsilon (and a word output) can remain, as in HCLG. `g` gets arc-sorted in place.
    """
    lg = lexicon_loop(lang) if g is None else compose_lg(lang, g, repeatable_silence(lang))
    h = ctc_topo(num_ctc_outputs(lang) - 1, modified)
    for state in kaldifst.StateIterator(h):
        for d in lang.disambig:
            h.add_arc(state, kaldifst.StdArc(d + 1, d, 0.0, state))
    kaldifst.arcsort(h, sort_type="olabel")
    hlg = kaldifst.compose(h, lg)
    if not modified:
        kaldifst.determinize_star(hlg, use_log=True)
    relabel_inputs(hlg, {d + 1 for d in lang.disambig})
    kaldifst.rmepsilon(hlg)
    if not modified:
        kaldifst.minimize_encoded(hlg)
    kaldifst.arcsort(hlg, sort_type="ilabel")
    log.info("%s: %d states", "HL" if g is None else "HLG", hlg.num_states)
    return hlg


def build_ctc_graphs(lang_dir: Path, g_fst: Path | None, out_dir: Path) -> None:
    """Write `out_dir/{H,HLG}.fst` (H and HL without a G) plus words.txt/phones.txt copies, atomically.

    HL is only built without a G: with a G the LM fixes the words, and a lexicon whose silence word has the
    optional silence as its pronunciation (Kaldi's yesno `<SIL> SIL`) makes the bare lexicon loop ambiguous.
    """
    lang = LangDir(lang_dir)
    if g_fst is not None and not Path(g_fst).is_file():
        raise AsrflowError(f"G.fst {g_fst} does not exist; compile it with `python -m asrflow.lm G` "
                           "or build without a G (H.fst and HL.fst only)")
    graphs = {"H": make_h(lang)}
    if g_fst is None:
        graphs["HL"] = make_hlg(lang, None)
    else:
        graphs["HLG"] = make_hlg(lang, kaldifst.StdVectorFst.read(str(g_fst)))
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for name, fst in graphs.items():
            fst.write(str(tmp / f"{name}.fst"))
        for name in ("words.txt", "phones.txt"):
            (tmp / name).write_text((lang.path / name).read_text())
