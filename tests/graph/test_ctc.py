"""CTC graphs: H collapses every frame string correctly, HL/HLG spell words, build_ctc_graphs writes them."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import kaldifst
import pytest

from asrflow.common import AsrflowError
from asrflow.graph.ctc import build_ctc_graphs, ctc_tokens, ctc_topo, make_h, make_hlg, num_ctc_outputs
from asrflow.lang.langdir import LangDir
from conftest import toy_lang

@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[LangDir, Path]:
    """A lang dir with homophones and prefixes, and its bigram G.fst."""
    lang, g_fst = toy_lang(tmp_path_factory.mktemp("ctc_lang"))
    return LangDir(lang), g_fst


def transduce(fst: kaldifst.StdVectorFst, frames: list[int], out: list[int] | None = None) -> list[int] | None:
    """Output labels of `fst`'s best path for per-frame tokens `frames` (restricted to output `out`), None if none."""
    path = kaldifst.compose(kaldifst.make_linear_acceptor([t + 1 for t in frames]), fst)
    if out is not None:
        kaldifst.arcsort(path, sort_type="olabel")
        path = kaldifst.compose(path, kaldifst.make_linear_acceptor(out))
    kaldifst.connect(path)
    if path.num_states == 0:
        return None
    _, _, labels, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(path))
    return list(labels)


def collapse(frames: tuple[int, ...]) -> list[int]:
    """Reference CTC collapse: merge runs, drop blanks."""
    return [t for t, _ in itertools.groupby(frames) if t != 0]


def phone_frames(lang: LangDir, phones: str) -> list[int]:
    """One frame per phone, a blank between equal neighbours (CTC needs it)."""
    ids = [lang.phones[p] for p in phones.split()]
    return [x for i, p in enumerate(ids) for x in ([0, p] if i and ids[i - 1] == p else [p])]


def test_tokens_are_the_real_phones(toy) -> None:
    lang, _ = toy
    assert [lang.id2phone[i] for i in ctc_tokens(lang)] == ["SIL", "SPN", "AE", "AH", "K", "N", "T"]
    assert num_ctc_outputs(lang) == lang.phones["T"] + 1 == min(lang.disambig)


def test_disambiguation_ids_among_phones_are_a_user_error(toy, tmp_path: Path) -> None:
    lang, _ = toy
    shutil.copytree(lang.path, tmp_path / "lang")
    (tmp_path / "lang/phones/disambig.int").write_text(f"{lang.phones['AE']}\n")
    with pytest.raises(AsrflowError, match="phones.txt"):
        ctc_tokens(LangDir(tmp_path / "lang"))


def test_standard_topology_outputs_the_collapsed_string_of_every_frame_string() -> None:
    h = ctc_topo(2)
    assert (h.num_states, sum(1 for s in kaldifst.StateIterator(h) for _ in kaldifst.ArcIterator(h, s))) == (3, 9)
    assert transduce(h, [1, 1, 0, 1]) == [1, 1]
    for n in range(1, 6):
        for frames in itertools.product(range(3), repeat=n):
            assert transduce(h, list(frames)) == collapse(frames), frames


def test_modified_topology_allows_doubled_tokens_without_blank() -> None:
    standard, modified = ctc_topo(3), ctc_topo(3, modified=True)
    assert sum(1 for s in kaldifst.StateIterator(modified) for _ in kaldifst.ArcIterator(modified, s)) == 1 + 4 * 3
    assert transduce(modified, [2, 2], out=[2, 2]) == [2, 2]
    assert transduce(standard, [2, 2], out=[2, 2]) is None
    for frames in ([2, 2], [0, 1, 1, 1, 0, 3], [3, 0, 3, 2]):
        assert transduce(modified, frames, out=collapse(tuple(frames))) == collapse(tuple(frames))
    assert transduce(modified, [1, 2], out=[1]) is None


def test_hl_and_hlg_spell_words_and_use_only_network_outputs(toy) -> None:
    lang, g_fst = toy
    hl, hlg = make_hlg(lang, None), make_hlg(lang, kaldifst.StdVectorFst.read(str(g_fst)))
    sentence = "A CAT AT TAN"
    frames = phone_frames(lang, "AH K AE T SIL AE T T AE N")
    assert transduce(hlg, frames) == [lang.words[w] for w in sentence.split()]
    assert transduce(hl, phone_frames(lang, "K AE T AE T T AE N")) == [lang.words[w] for w in "CAT AT TAN".split()]
    assert transduce(hlg, phone_frames(lang, "AH")) == [lang.words["A"]]  # the LM prefers A to its homophone EH
    assert transduce(hl, phone_frames(lang, "AH"), out=[lang.words["EH"]]) == [lang.words["EH"]]
    assert transduce(hlg, phone_frames(lang, "AH K")) is None  # not a word string
    for fst in (hl, hlg):
        arcs = [a for s in kaldifst.StateIterator(fst) for a in kaldifst.ArcIterator(fst, s)]
        assert max(a.ilabel for a in arcs) == num_ctc_outputs(lang)  # no disambiguation symbol left on the input
        assert lang.words["#0"] not in {a.olabel for a in arcs}


def test_hlg_reads_silence_emitted_twice_in_one_pause_as_one_pause(toy) -> None:
    lang, g_fst = toy
    sil = lang.optional_silence
    frames = phone_frames(lang, "AH") + [sil, sil, 0, 0, sil] + phone_frames(lang, "K AE T") + [sil, 0, sil]
    hlg = make_hlg(lang, kaldifst.StdVectorFst.read(str(g_fst)))
    assert transduce(hlg, frames) == [lang.words["A"], lang.words["CAT"]]  # no word put between the two SILs
    assert transduce(hlg, [sil, 0, sil] + phone_frames(lang, "AH")) == [lang.words["A"]]
    assert transduce(hlg, phone_frames(lang, "K AE") + [sil] + phone_frames(lang, "T")) is None  # not inside words


def test_modified_hlg_needs_no_blank_between_doubled_phones(toy) -> None:
    lang, g_fst = toy
    frames = [lang.phones[p] for p in "AE T T AE N".split()]
    words = [lang.words["AT"], lang.words["TAN"]]
    g = kaldifst.StdVectorFst.read(str(g_fst))
    assert transduce(make_hlg(lang, g, modified=True), frames) == words
    assert transduce(make_hlg(lang, g), frames) is None


def test_build_ctc_graphs_writes_readable_fsts(toy, tmp_path: Path) -> None:
    lang, g_fst = toy
    build_ctc_graphs(lang.path, g_fst, tmp_path / "graph")
    assert sorted(p.name for p in (tmp_path / "graph").iterdir()) == ["H.fst", "HLG.fst", "phones.txt",
                                                                       "words.txt"]
    assert kaldifst.StdVectorFst.read(str(tmp_path / "graph/H.fst")).num_states == make_h(lang).num_states
    hlg = kaldifst.StdVectorFst.read(str(tmp_path / "graph/HLG.fst"))
    assert transduce(hlg, phone_frames(lang, "AH N AE T")) == [lang.words["AN"], lang.words["AT"]]
    build_ctc_graphs(lang.path, None, tmp_path / "nolm")
    assert not (tmp_path / "nolm/HLG.fst").exists() and (tmp_path / "nolm/HL.fst").is_file()


def test_missing_g_is_a_user_error_naming_it(toy, tmp_path: Path) -> None:
    lang, _ = toy
    missing = tmp_path / "lm" / "G.fst"
    with pytest.raises(AsrflowError, match=str(missing)):
        build_ctc_graphs(lang.path, missing, tmp_path / "graph")
    assert not (tmp_path / "graph").exists()
