"""CTC decoding: kaldi-decoder on H/HL/HLG recovers spelled words, k2 on the converted graphs agrees, k2's CTC loss."""

from __future__ import annotations

from pathlib import Path

# kaldifst and kaldi_decoder before k2 and torch: other orders can deadlock at import with these wheels.
import kaldi_decoder  # noqa: F401
import kaldifst
import k2
import numpy as np
import pytest
import torch

from asrflow.common import AsrflowError
from asrflow.decode.ctc import CtcDecodeOptions, CtcDecoder, decode_ctc, greedy_ctc
from asrflow.graph.ctc import build_ctc_graphs, num_ctc_outputs
from asrflow.graph.k2graph import k2_ctc_loss, k2_decode, k2_lattices, k2_word_lm, rescore_lattices, to_k2
from asrflow.lm.grammar import arpa_to_G
from asrflow.lang.langdir import LangDir
from conftest import TOY_ARPA, TOY_LEXICON, toy_lang

SENTENCES = ["A CAT AT TAN", "CAT AT", "AN AT TAN", "TAN CAT"]
WIDE = CtcDecodeOptions(beam=40.0, max_active=100000, min_active=1)
K2_WIDE = {"search_beam": 40.0, "output_beam": 10.0, "min_active_states": 1, "max_active_states": 100000}


class Toy:
    """A lang dir with its H, HL and HLG as written by build_ctc_graphs."""

    def __init__(self, root: Path) -> None:
        toy_lang(root)
        build_ctc_graphs(root / "lang", root / "G.fst", root / "graph")
        build_ctc_graphs(root / "lang", None, root / "graph_nolm")  # HL is built without a G
        self.lang = LangDir(root / "lang")
        self.graphs = {n: kaldifst.StdVectorFst.read(str(root / f"{d}/{n}.fst"))
                       for d, n in (("graph", "H"), ("graph_nolm", "HL"), ("graph", "HLG"))}
        self.num_outputs = num_ctc_outputs(self.lang)

    def phones(self, sentence: str) -> list[list[int]]:
        """Phone ids of each word of a sentence."""
        lexicon = dict(line.split(maxsplit=1) for line in TOY_LEXICON.splitlines())
        return [[self.lang.phones[p] for p in lexicon[w].split()] for w in sentence.split()]

    def words(self, sentence: str) -> list[int]:
        """Word ids of a sentence."""
        return [self.lang.words[w] for w in sentence.split()]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Toy:
    """The toy lang dir and its CTC graphs, built once per module."""
    return Toy(tmp_path_factory.mktemp("ctc_decode"))


def spell(words: list[list[int]], rng: np.random.Generator, sil: int | None = None) -> list[int]:
    """CTC frames for the words' tokens: random repeats and blanks (forced between equal tokens), sil between words."""
    frames = [0] * int(rng.integers(0, 3))
    for w, tokens in enumerate(words):
        if w and sil is not None and rng.random() < 0.4:
            frames += [sil] * int(rng.integers(1, 3))
        for t in tokens:
            if frames and (t == frames[-1] or rng.random() < 0.5):
                frames += [0] * int(rng.integers(1, 3))
            frames += [t] * int(rng.integers(1, 4))
    return frames + [0] * int(rng.integers(0, 3))


def log_probs(frames: list[int], num_outputs: int, rng: np.random.Generator, bias: float = 6.0,
              noise: float = 0.0) -> np.ndarray:
    """Log-softmax of random logits (std `noise`) plus `bias` on each frame's token."""
    logits = rng.normal(0.0, noise, (len(frames), num_outputs)) if noise else np.zeros((len(frames), num_outputs))
    logits[np.arange(len(frames)), frames] += bias
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


def test_decoders_recover_spelled_words_and_phones(toy: Toy) -> None:
    rng = np.random.default_rng(0)
    sil = toy.lang.phones["SIL"]
    for sentence in SENTENCES:
        for _ in range(3):
            frames = spell(toy.phones(sentence), rng, sil)
            lp = log_probs(frames, toy.num_outputs, rng, noise=1.0)
            phones = [t for i, t in enumerate(frames) if t and (i == 0 or frames[i - 1] != t)]
            assert decode_ctc(toy.graphs["HLG"], lp) == toy.words(sentence), frames
            assert decode_ctc(toy.graphs["H"], lp) == phones
            assert greedy_ctc(lp) == phones
            if not sentence.startswith("A "):  # without the LM, A and EH are a tie
                assert decode_ctc(toy.graphs["HL"], lp) == toy.words(sentence), frames


def test_lm_breaks_the_homophone_tie(toy: Toy) -> None:
    lp = log_probs(spell(toy.phones("A"), np.random.default_rng(1)), toy.num_outputs, np.random.default_rng(1))
    assert decode_ctc(toy.graphs["HLG"], lp) == toy.words("A")
    assert decode_ctc(toy.graphs["HL"], lp) in (toy.words("A"), toy.words("EH"))


def test_acoustic_scale_multiplies_the_log_probs(toy: Toy) -> None:
    lp = log_probs(spell(toy.phones("CAT AT"), np.random.default_rng(3)), toy.num_outputs, np.random.default_rng(3))
    plain = CtcDecoder(toy.graphs["H"]).decode(lp)  # H has no weights: the cost is acoustic only
    scaled = CtcDecoder(toy.graphs["H"], CtcDecodeOptions(acoustic_scale=2.0)).decode(lp)
    assert scaled.labels == plain.labels and scaled.cost == pytest.approx(2 * plain.cost, rel=1e-5)


def test_wrong_network_size_is_a_user_error(toy: Toy) -> None:
    lp = np.zeros((5, toy.num_outputs - 1), dtype=np.float32)
    with pytest.raises(AsrflowError, match="num_ctc_outputs"):
        decode_ctc(toy.graphs["HLG"], lp)
    with pytest.raises(AsrflowError, match="num_ctc_outputs"):
        k2_decode(to_k2(toy.graphs["HLG"]), [lp])


@pytest.mark.parametrize("name", ["H", "HL", "HLG"])
def test_k2_on_the_converted_graph_matches_kaldi_decoder(toy: Toy, name: str) -> None:
    """Same 1-best labels and the same path score (k2 score = −kaldi cost) on clean, noisy and random inputs."""
    rng = np.random.default_rng(2)
    utterances = [log_probs(spell(toy.phones(s), rng), toy.num_outputs, rng, bias=b, noise=1.0)
                  for s in SENTENCES for b in (6.0, 2.0, 1.0)]
    utterances += [log_probs([0] * t, toy.num_outputs, rng, bias=0.0, noise=2.0) for t in (1, 7, 25, 60)]
    decoder = CtcDecoder(toy.graphs[name], WIDE)
    hyps = [decoder.decode(lp) for lp in utterances]
    fsa = to_k2(toy.graphs[name])
    assert k2_decode(fsa, utterances, **K2_WIDE) == [h.labels for h in hyps]
    best = k2.shortest_path(k2_lattices(fsa, utterances, **K2_WIDE), use_double_scores=True)
    scores = best.get_tot_scores(use_double_scores=True, log_semiring=False)
    assert all(h.final for h in hyps)
    np.testing.assert_allclose(-scores.numpy(), [h.cost for h in hyps], atol=1e-3)
    assert len({tuple(h.labels) for h in hyps}) > 5  # the inputs give varied answers, not all the same path


def test_to_k2_shifts_labels_to_network_outputs(toy: Toy) -> None:
    h = to_k2(toy.graphs["H"])
    assert set(h.labels.tolist()) == set(range(toy.num_outputs)) | {-1}
    assert isinstance(h.aux_labels, torch.Tensor) and int(h.aux_labels.max()) == toy.num_outputs - 1
    hlg = to_k2(toy.graphs["HLG"])
    assert int(hlg.labels.min()) == -1 and int(hlg.labels.max()) == toy.num_outputs - 1
    assert isinstance(hlg.aux_labels, k2.RaggedTensor)  # epsilon removal merged word labels
    assert k2_decode(hlg, [np.zeros((3, toy.num_outputs), np.float32)], **K2_WIDE)  # any 3 frames give some words


def test_k2_ctc_loss_equals_torch() -> None:
    torch.manual_seed(0)
    lens, targets = [9, 14, 6, 11], [[1, 1, 2], [3, 4, 3, 5, 5], [], [2]]
    logits = torch.randn(len(lens), max(lens), 6, requires_grad=True)
    lp = logits.log_softmax(-1)
    ours = k2_ctc_loss(lp, torch.tensor(lens), targets)
    ref = torch.nn.functional.ctc_loss(lp.permute(1, 0, 2), torch.tensor([t for s in targets for t in s]),
                                       torch.tensor(lens), torch.tensor([len(s) for s in targets]),
                                       blank=0, reduction="none")
    assert ours.shape == (len(lens),)
    torch.testing.assert_close(ours, ref, atol=1e-3, rtol=0)
    (ours_grad,) = torch.autograd.grad(ours.sum(), logits, retain_graph=True)
    (ref_grad,) = torch.autograd.grad(ref.sum(), logits)
    for i, n in enumerate(lens):
        torch.testing.assert_close(ours_grad[i, :n], ref_grad[i, :n], atol=1e-3, rtol=0)


def test_whole_lattice_rescoring_swaps_the_lm(toy: Toy, tmp_path: Path) -> None:
    """A first pass whose LM prefers EH hears "A" as EH; rescoring its lattice with the toy LM (A preferred) gives A,
    and clearly spoken sentences keep their words under rescoring."""
    (tmp_path / "eh.arpa").write_text(TOY_ARPA.replace("-1.2\tA\t", "-3.5\tA\t").replace("-1.5\tEH\t", "-0.5\tEH\t")
                                     .replace("<s> A\n", "<s> EH\n"))
    arpa_to_G(tmp_path / "eh.arpa", toy.lang.path / "words.txt", tmp_path / "G_eh.fst")
    build_ctc_graphs(toy.lang.path, tmp_path / "G_eh.fst", tmp_path / "graph")
    hlg_eh = to_k2(kaldifst.StdVectorFst.read(str(tmp_path / "graph/HLG.fst")))
    toy_g = kaldifst.StdVectorFst.read(str(toy.lang.path.parent / "G.fst"))
    word_lm = k2_word_lm(toy_g, toy.lang.words["#0"])
    rng = np.random.default_rng(5)
    homophone = log_probs(spell(toy.phones("A"), rng), toy.num_outputs, rng)
    clear = [log_probs(spell(toy.phones(s), rng), toy.num_outputs, rng, noise=1.0) for s in SENTENCES]
    assert k2_decode(hlg_eh, [homophone], **K2_WIDE) == [toy.words("EH")]
    lattice = k2_lattices(hlg_eh, [homophone, *clear], **K2_WIDE)
    assert rescore_lattices(lattice, word_lm) == [toy.words("A"), *(toy.words(s) for s in SENTENCES)]
