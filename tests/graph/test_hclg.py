"""HCLG built from lang + G + model accepts the reference path of a training utterance."""

from __future__ import annotations

import kaldifst

from asrflow.graph.hclg import make_hclg
from asrflow.lang.langdir import LangDir


def test_hclg_accepts_a_training_alignment_and_outputs_its_words(yesno_system) -> None:
    lang = LangDir(yesno_system.lang)
    g = kaldifst.StdVectorFst.read(str(yesno_system.g_fst))
    hclg = make_hclg(lang, g, yesno_system.model)
    kaldifst.arcsort(hclg, sort_type="ilabel")
    utt, ali = sorted(yesno_system.alignments.items())[0]
    path = kaldifst.compose(kaldifst.make_linear_acceptor([int(t) for t in ali]), hclg)
    assert path.num_states > 0, "HCLG rejects the training alignment"
    _, _, words, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(path))
    expected = ["YES" if c == "1" else "NO" for c in utt.split("_")]
    assert [lang.id2word[w] for w in words if w] == expected
    # disambiguation symbols are gone: every input label is a transition id
    assert all(a.ilabel <= yesno_system.model.tm.num_transition_ids
               for s in kaldifst.StateIterator(hclg) for a in kaldifst.ArcIterator(hclg, s))
