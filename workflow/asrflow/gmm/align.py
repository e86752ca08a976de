"""Training graphs and Viterbi alignment (Kaldi's compile-train-graphs, align-equal, gmm-align-compiled)."""

from __future__ import annotations

from dataclasses import dataclass

import kaldi_hmm_gmm as khg
import kaldifst
import numpy as np

from asrflow.gmm.model import AcousticModel
from asrflow.lang.langdir import LangDir


@dataclass(frozen=True)
class AlignOptions:
    """Scales and beams of alignment (Kaldi's train_*.sh defaults)."""

    beam: float = 10.0
    retry_beam: float = 40.0
    acoustic_scale: float = 0.1
    transition_scale: float = 1.0
    self_loop_scale: float = 0.1


class GraphCompiler:
    """Compiles per-utterance training graphs; transition probabilities are added at alignment time."""

    def __init__(self, model: AcousticModel, lang: LangDir) -> None:
        # scales 0/0 as Kaldi's compile-train-graphs: the probabilities change every iteration
        opts = khg.TrainingGraphCompilerOptions(transition_scale=0.0, self_loop_scale=0.0)
        self._lang = lang
        self._compiler = khg.TrainingGraphCompiler(model.tm, model.tree, lang.lexicon_fst(), lang.disambig, opts)

    def compile(self, text: str) -> kaldifst.StdVectorFst:
        """Training graph (HCLG for one transcript, transition-id inputs) of `text`."""
        return self._compiler.compile_graph_from_text(self._lang.word_ids(text))


def equal_alignment(graph: kaldifst.StdVectorFst, num_frames: int, seed: int) -> np.ndarray | None:
    """A random path of `num_frames` transition ids through `graph` (Kaldi's EqualAlign), or None if none fits."""
    ok, path = kaldifst.equal_align(graph, num_frames, seed)
    if not ok:
        return None
    ilabels = kaldifst.get_linear_symbol_sequence(path)[1]
    ali = np.array([i for i in ilabels if i != 0], dtype=np.int32)
    return ali if len(ali) == num_frames else None


def flat_start_alignment(model: AcousticModel, graph: kaldifst.StdVectorFst, num_frames: int, seed: int,
                         silence: set[int], tries: int) -> np.ndarray | None:
    """The best of `tries` equal alignments: silence at both ends, then the fewest HMM states.

    Kaldi's EqualAlign walks the ergodic silence HMM at random, so one draw can give a
    silence hundreds of frames long and shift every word; picking the tightest draw makes
    the flat start far less dependent on luck.
    """
    best, best_key = None, None
    for k in range(tries):
        ali = equal_alignment(graph, num_frames, (seed + k) % 2**31)
        if ali is None:
            continue
        phones = model.tid2phone[ali[[0, -1]]]
        key = (-int(phones[0] in silence) - int(phones[1] in silence),
               int((~model.tid_is_self_loop[ali]).sum()))
        if best_key is None or key < best_key:
            best, best_key = ali, key
    return best


def viterbi_align(
    model: AcousticModel,
    graph: kaldifst.StdVectorFst,
    feats: np.ndarray,
    opts: AlignOptions,
    pdf_offsets: np.ndarray | None = None,
    pdfs: np.ndarray | None = None,
) -> tuple[np.ndarray | None, float]:
    """Best transition-id sequence through `graph` for `feats` and its (unscaled) log-likelihood.

    `pdfs` (`AcousticModel.graph_pdfs(graph)`) limits the likelihood computation to the graph's pdfs.
    """
    fst = kaldifst.StdVectorFst(graph)
    khg.add_transition_probs(
        trans_model=model.tm, disambig_syms=[], transition_scale=opts.transition_scale,
        self_loop_scale=opts.self_loop_scale, fst=fst,
    )
    decodable = khg.DecodableCtc(model.tid_loglikes(feats, opts.acoustic_scale, pdf_offsets, pdfs))
    out = khg.align_utterance_wrapper(
        khg.AlignConfig(beam=opts.beam, retry_beam=opts.retry_beam), "utt", opts.acoustic_scale,
        fst, decodable, 0, 0, 0, 0.0, 0,
    )
    num_done, _, _, tot_like, _, ali, _ = out
    if num_done == 0:
        return None, 0.0
    return np.asarray(ali, dtype=np.int32), float(tot_like)
