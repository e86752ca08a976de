"""MFCC extraction, CMVN statistics, deltas and the feature/utterance loaders."""

from __future__ import annotations

from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import pytest
import soundfile as sf
from lhotse import validate

from asrflow.common import AsrflowError
from asrflow.data.corpus import prepare_parts
from asrflow.data.features import (
    KaldiMfcc, add_deltas, apply_cmvn, compute_features, load_cuts, load_features, load_utterances,
)

LOCAL = Path(__file__).resolve().parents[2] / "local"


@pytest.fixture(scope="module")
def yesno_test(corpora_dir, tmp_path_factory) -> Path:
    """yesno's test part (29 files, one speaker) with features."""
    out = tmp_path_factory.mktemp("feats") / "yesno"
    prepare_parts(LOCAL / "yesno.py", corpora_dir / "yesno", {"sample_rate": 8000}, out)
    compute_features(out / "test", {}, num_jobs=1)
    return out / "test"


@pytest.fixture(scope="module")
def fsdd_test(corpora_dir, tmp_path_factory) -> Path:
    """fsdd's own test part (200 files, 4 speakers) with features computed by 2 worker processes."""
    out = tmp_path_factory.mktemp("feats") / "fsdd"
    prepare_parts(LOCAL / "fsdd.py", corpora_dir / "fsdd", {"sample_rate": 8000, "test_speakers": []}, out)
    compute_features(out / "test", {}, num_jobs=2)
    return out / "test"


def test_dithered_features_are_the_same_whatever_num_jobs(corpora_dir, tmp_path, yesno_test):
    # the features rule's workers follow --cores; Kaldi's dither is seeded per audio, so the bits must not
    feats = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        prepare_parts(LOCAL / "yesno.py", corpora_dir / "yesno", {"sample_rate": 8000}, out)
        compute_features(out / "test", {"dither": 1.0, "seed": 3}, num_jobs=jobs)
        feats[jobs] = load_features(out / "test", deltas=0, cmvn="none")
    assert list(feats[1]) == list(feats[2]) and len(feats[1]) == 29
    for utt, f in feats[1].items():
        np.testing.assert_array_equal(f, feats[2][utt])
    first = next(iter(feats[1]))
    undithered = load_features(yesno_test, deltas=0, cmvn="none")  # the fixture's cfg {} has no dither
    assert not np.array_equal(undithered[first], feats[1][first])


def test_frame_counts_follow_kaldi_snip_edges(yesno_test):
    feats = load_features(yesno_test, deltas=0, cmvn="none")
    utts = load_utterances(yesno_test)
    assert list(feats) == [u.id for u in utts] and len(utts) == 29
    for utt in utts:
        num_samples = sf.info(utt.audio_path).frames
        assert feats[utt.id].shape == (1 + (num_samples - 200) // 80, 13)


def test_outputs_and_lhotse_manifest(yesno_test):
    assert sorted(p.name for p in yesno_test.iterdir()) == [
        "cmvn.npz", "cuts.jsonl.gz", "feats.lca", "kaldi", "recordings.jsonl.gz", "supervisions.jsonl.gz"]
    cuts = load_cuts(yesno_test)
    validate(cuts)
    assert list(cuts.ids) == sorted(cuts.ids)
    assert cuts[0].features.type == KaldiMfcc.name and cuts[0].supervisions[0].text.startswith(("YES", "NO"))


def test_stored_features_match_direct_extraction(yesno_test):
    utt = load_utterances(yesno_test)[0]
    audio, rate = sf.read(utt.audio_path, dtype="float32")
    direct = KaldiMfcc().extract(audio, rate)
    stored = load_features(yesno_test, deltas=0, cmvn="none")[utt.id]
    assert np.allclose(stored, direct, atol=0.05 * np.abs(direct).max())


def test_deltas_give_39_dims(yesno_test):
    feats = load_features(yesno_test)
    assert {f.shape[1] for f in feats.values()} == {39} and {f.dtype for f in feats.values()} == {np.dtype(np.float32)}


def test_speaker_cmvn_means_are_zero(fsdd_test):
    feats = load_features(fsdd_test, deltas=0, cmvn="speaker")
    by_speaker: dict[str, list[np.ndarray]] = {}
    for utt in load_utterances(fsdd_test):
        by_speaker.setdefault(utt.speaker, []).append(feats[utt.id])
    assert sorted(by_speaker) == ["george", "jackson", "lucas", "nicolas"]
    for mats in by_speaker.values():
        assert np.abs(np.concatenate(mats).mean(axis=0)).max() < 1e-3


def test_cmvn_stats_match_kaldi_layout(fsdd_test):
    raw = load_features(fsdd_test, deltas=0, cmvn="none")
    with np.load(fsdd_test / "cmvn.npz") as z:
        stats = dict(zip(z["speakers"].tolist(), z["stats"]))
    lucas = np.concatenate([raw[u.id] for u in load_utterances(fsdd_test) if u.speaker == "lucas"])
    assert np.allclose(stats["lucas"], knf.compute_cmvn_stats(lucas), rtol=1e-5)


def test_utterance_cmvn(yesno_test):
    for mat in load_features(yesno_test, deltas=0, cmvn="utterance").values():
        assert np.abs(mat.mean(axis=0)).max() < 1e-3


def test_failed_extraction_leaves_no_outputs(corpora_dir, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for wav in (corpora_dir / "yesno").glob("*.wav"):
        (corpus / wav.name).symlink_to(wav)
    prepare_parts(LOCAL / "yesno.py", corpus, {"sample_rate": 8000}, tmp_path / "out")
    part = tmp_path / "out" / "train"
    victim = sorted(corpus.glob("*.wav"))[3]
    victim.unlink()
    victim.write_bytes(b"not audio any more")
    with pytest.raises(AsrflowError, match=f"cannot load.*{victim.name}"):
        compute_features(part, {}, num_jobs=2)
    assert sorted(p.name for p in part.iterdir()) == ["kaldi", "recordings.jsonl.gz", "supervisions.jsonl.gz"]


def test_add_deltas_by_hand_window_1():
    # x = [1, 2, 4], window 1: delta_t = (x[t+1] - x[t-1]) / 2, delta2 = (x[t-2] - 2 x[t] + x[t+2]) / 4, edges clamped
    out = add_deltas(np.array([[1.0], [2.0], [4.0]]), order=2, window=1)
    assert np.allclose(out, [[1, 0.5, 0.75], [2, 1.5, 0.25], [4, 1.0, -0.75]])


def test_add_deltas_by_hand_window_2():
    # ramp 0..4, window 2: delta_t = sum_j j x[clamp(t+j)] / 10; second order uses the 9-tap kernel
    # [4, 4, 1, -4, -10, -4, 1, 4, 4] / 100 over x[clamp(t-4 .. t+4)]:
    # t=0: x = 0 0 0 0 0 1 2 3 4 -> (-4*1 + 1*2 + 4*3 + 4*4) / 100 = 0.26
    # t=1: x = 0 0 0 0 1 2 3 4 4 -> (-10*1 - 4*2 + 1*3 + 4*4 + 4*4) / 100 = 0.17
    out = add_deltas(np.arange(5.0).reshape(5, 1))
    assert np.allclose(out[:, 1], [0.5, 0.8, 1.0, 0.8, 0.5])
    assert np.allclose(out[:, 2], [0.26, 0.17, 0.0, -0.17, -0.26])


def test_add_deltas_matches_knf_and_edges():
    feats = np.random.default_rng(0).normal(size=(40, 13)).astype(np.float32)
    ref = knf.compute_deltas(knf.DeltaOptions(order=2, window=2), feats)
    assert np.allclose(add_deltas(feats), ref, atol=1e-5)
    assert add_deltas(feats[:1]).shape == (1, 39) and np.allclose(add_deltas(feats[:1])[:, 13:], 0)
    assert add_deltas(feats[:0]).shape == (0, 39)


def test_apply_cmvn_by_hand():
    feats = np.array([[1.0, 10.0], [3.0, 30.0]])
    stats = np.array([[4.0, 40.0, 2.0], [10.0, 1000.0, 0.0]])  # means 2, 20; variances 1, 100
    assert np.allclose(apply_cmvn(feats, stats), [[-1, -10], [1, 10]])
    assert np.allclose(apply_cmvn(feats, stats, norm_vars=True), [[-1, -1], [1, 1]])
