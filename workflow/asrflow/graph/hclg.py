"""Decoding graph construction: HCLG = min(det(H ∘ min(det(C ∘ L ∘ G)))) with self-loops, as Kaldi's mkgraph.sh."""

from __future__ import annotations

from pathlib import Path

import kaldi_hmm_gmm as khg
import kaldifst

from asrflow.common import AsrflowError, atomic_path, get_logger
from asrflow.gmm.model import AcousticModel
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.graph")


def relabel_inputs(fst: kaldifst.StdVectorFst, to_epsilon: set[int]) -> None:
    """Replace the input labels in `to_epsilon` by epsilon in place (fstrmsymbols)."""
    for state in kaldifst.StateIterator(fst):
        arcs = list(kaldifst.ArcIterator(fst, state))
        if not any(a.ilabel in to_epsilon for a in arcs):
            continue
        fst.delete_arcs(state, len(arcs))
        for a in arcs:
            ilabel = 0 if a.ilabel in to_epsilon else a.ilabel
            fst.add_arc(state, kaldifst.StdArc(ilabel, a.olabel, a.weight, a.nextstate))


def compose_lg(lang: LangDir, g: kaldifst.StdVectorFst,
               lfst: kaldifst.StdVectorFst | None = None) -> kaldifst.StdVectorFst:
    """min(det(L_disambig ∘ G)): the lexicon-and-grammar transducer from phones to words (`lfst`: another L_disambig)."""
    lfst = lang.lexicon_fst(disambig=True) if lfst is None else lfst
    kaldifst.arcsort(lfst, sort_type="olabel")
    kaldifst.arcsort(g, sort_type="ilabel")
    lg = kaldifst.compose(lfst, g)
    if lg.num_states == 0:
        raise AsrflowError("L ∘ G is empty: the LM and the lexicon share no word sequence; check words.txt vs the ARPA")
    kaldifst.determinize_star(lg, use_log=True)
    kaldifst.minimize_encoded(lg)
    kaldifst.arcsort(lg, sort_type="ilabel")
    return lg


def make_hclg(lang: LangDir, g: kaldifst.StdVectorFst, model: AcousticModel, transition_scale: float = 1.0,
              self_loop_scale: float = 0.1) -> kaldifst.StdVectorFst:
    """Full decoding graph over transition ids with transition probabilities and self-loops.

    The context transducer C takes its width and central position from the model's tree
    (1/0 for monophones, 3/1 for triphones), as mkgraph.sh does.
    """
    lg = compose_lg(lang, g)
    log.info("LG: %d states", lg.num_states)
    clg, ilabel_info = kaldifst.compose_context(lang.disambig, model.tree.context_width,
                                                model.tree.central_position, lg)
    kaldifst.arcsort(clg, sort_type="ilabel")
    h, disambig_tids = khg.get_h_transducer(ilabel_info, model.tree, model.tm,
                                            khg.HTransducerConfig(transition_scale=transition_scale))
    kaldifst.arcsort(h, sort_type="olabel")
    hclga = kaldifst.compose(h, clg)
    kaldifst.determinize_star(hclga, use_log=True)
    relabel_inputs(hclga, set(disambig_tids))
    kaldifst.rmepsilon(hclga)
    kaldifst.minimize_encoded(hclga)
    hclg = khg.add_self_loops(self_loop_scale=self_loop_scale, disambig_syms=[], reorder=True,
                              trans_model=model.tm, ifst=hclga)
    kaldifst.arcsort(hclg, sort_type="ilabel")
    log.info("HCLG: %d states", hclg.num_states)
    return hclg


def build_graph(lang_dir: Path, g_fst: Path, model_path: Path, out_dir: Path, self_loop_scale: float = 0.1) -> None:
    """Write `out_dir/HCLG.fst` plus words.txt/phones.txt copies (Kaldi's graph dir) atomically."""
    lang = LangDir(lang_dir)
    g = kaldifst.StdVectorFst.read(str(g_fst))
    model = AcousticModel.load(model_path)
    hclg = make_hclg(lang, g, model, self_loop_scale=self_loop_scale)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        hclg.write(str(tmp / "HCLG.fst"))
        for name in ("words.txt", "phones.txt"):
            (tmp / name).write_text((lang.path / name).read_text())
