"""Shared test fixtures."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from asrflow.data.corpus import prepare_parts
from asrflow.data.features import compute_features, load_features
from asrflow.gmm.model import AcousticModel
from asrflow.gmm.mono import MonoConfig, train_mono
from asrflow.gmm.shards import Utt
from asrflow.gmm.tri import TriConfig, TriSystem, train_tri
from asrflow.lang.lexicon import read_lexicon
from asrflow.lang.prepare import LangConfig, prepare_lang
from asrflow.lm.grammar import arpa_to_G

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """Return the shared corpora folder (env ASRFLOW_CORPORA, default <repo>/../shared/corpora), or skip."""
    path = Path(os.environ.get("ASRFLOW_CORPORA", REPO.parent / "shared" / "corpora"))
    if not path.is_dir():
        pytest.skip(f"shared corpora not found at {path}: set ASRFLOW_CORPORA to the corpora folder")
    return path


# A and EH are homophones and AH is a prefix of AN (disambiguation symbols #1, #2); AT TAN doubles T.
TOY_LEXICON = "A AH\nEH AH\nAN AH N\nCAT K AE T\nAT AE T\nTAN T AE N\n"
TOY_ARPA = """\\data\\
ngram 1=9
ngram 2=6

\\1-grams:
-1.0\t</s>
-99\t<s>\t-0.5
-1.2\tA\t-0.4
-1.5\tEH\t-0.4
-1.3\tAN\t-0.4
-1.1\tCAT\t-0.4
-1.2\tAT\t-0.4
-1.4\tTAN\t-0.4
-2.0\t<UNK>\t-0.4

\\2-grams:
-0.3\t<s> A
-0.2\tA CAT
-0.3\tCAT AT
-0.2\tAT TAN
-0.3\tTAN </s>
-0.4\tAN AT

\\end\\
"""


def toy_lang(root: Path) -> tuple[Path, Path]:
    """Write the toy lexicon's lang dir and its bigram G.fst under `root`; return (lang dir, G.fst)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lexicon.txt").write_text(TOY_LEXICON)
    (root / "lm.arpa").write_text(TOY_ARPA)
    prepare_lang(read_lexicon(root / "lexicon.txt"), root / "lang", LangConfig())
    arpa_to_G(root / "lm.arpa", root / "lang/words.txt", root / "G.fst")
    return root / "lang", root / "G.fst"


@dataclass(frozen=True)
class YesnoSystem:
    """Prepared yesno data, lang dir, a G.fst and a small monophone system trained on it."""

    data: Path
    lang: Path
    g_fst: Path
    model: AcousticModel
    alignments: dict
    history: list


SMALL_MONO = {"num_iters": 12, "max_iter_inc": 8, "totgauss": 200,
              "realign_iters": [1, 2, 3, 4, 5, 6, 8, 10]}


@pytest.fixture(scope="session")
def yesno_system(corpora_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> YesnoSystem:
    """Real yesno audio through data prep, MFCC, lang, G and a short monophone training (a few seconds)."""
    root = tmp_path_factory.mktemp("yesno")
    cfg = {"sample_rate": 8000, "resample": False, "min_duration": 0.1}
    prepare_parts(REPO / "local" / "yesno.py", corpora_dir / "yesno", cfg, root / "data")
    for part in ("train", "test"):
        compute_features(root / "data" / part, {"dither": 1.0}, num_jobs=1)
    prepare_lang(read_lexicon(REPO / "lang/yesno/lexicon.txt"), root / "lang",
                 LangConfig(oov_word="<SIL>"))
    arpa_to_G(REPO / "lang/yesno/lm_unigram.arpa", root / "lang/words.txt", root / "G.fst")
    feats = load_features(root / "data/train")
    utts = Utt.of_part(root / "data/train", feats)
    model, ali, history = train_mono(utts, root / "lang", MonoConfig.from_dict(SMALL_MONO), seed=0)
    return YesnoSystem(root / "data", root / "lang", root / "G.fst", model, ali, history)


SMALL_TRI = {"num_leaves": 20, "totgauss": 150, "num_iters": 8, "max_iter_inc": 5, "realign_iters": [3, 6],
         "mllt_iters": [1, 3], "fmllr_iters": [1, 3], "lda_dim": 30}


def small_tri(stage_type: str, align_from: str) -> TriConfig:
    """A few-second configuration of one stage."""
    return TriConfig.from_dict({**SMALL_TRI, "type": stage_type, "align_from": align_from})


@pytest.fixture(scope="session")
def yesno_ladder(yesno_system) -> dict[str, TriSystem]:
    """tri1 (deltas) → tri2 (LDA+MLLT) → tri3 (SAT) on yesno's training part."""
    train = yesno_system.data / "train"
    tri1 = train_tri(train, yesno_system.lang, yesno_system.model, yesno_system.alignments,
                     small_tri("deltas", "mono"), seed=0)
    tri2 = train_tri(train, yesno_system.lang, tri1.model, tri1.alignments, small_tri("lda_mllt", "tri1"), seed=0)
    tri3 = train_tri(train, yesno_system.lang, tri2.model, tri2.alignments, small_tri("sat", "tri2"), seed=0)
    return {"tri1": tri1, "tri2": tri2, "tri3": tri3}
