"""Real-outcome tests of the synthetic digits corpus: determinism, audio format, transcripts, split, manifests."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from asrflow.common import AsrflowError
from asrflow.data import synth

REPO = Path(__file__).resolve().parents[2]
TINY = {"num_voices": 3, "test_voices": 1, "utts_per_voice": 3}


def load_local(name: str):
    """Import `local/<name>.py` the way a recipe would, by path."""
    spec = importlib.util.spec_from_file_location(f"local_{name}", REPO / "local" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def file_hashes(root: Path) -> dict[str, str]:
    """Map every file under `root` (relative path) to its SHA-256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_transcripts(corpus: Path) -> list[tuple[str, str, list[str]]]:
    """Return (utt_id, voice_id, words) rows of transcripts.tsv."""
    rows = [line.split("\t") for line in (corpus / "transcripts.tsv").read_text().splitlines()]
    return [(u, v, w.split(" ")) for u, v, w in rows]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthesize the tiny corpus twice with seed 1 (1 and 2 jobs) and once with seed 2."""
    root = tmp_path_factory.mktemp("synth")
    runs = {"a": (1, 1), "b": (1, 2), "other": (2, 2)}
    for name, (seed, jobs) in runs.items():
        synth.synthesize_corpus(root / name, TINY, seed, num_jobs=jobs)
    return {name: root / name for name in runs}


def test_same_seed_is_byte_identical_whatever_num_jobs(corpora: dict[str, Path]) -> None:
    a, b = file_hashes(corpora["a"]), file_hashes(corpora["b"])
    assert len(a) == 3 * 3 + 3  # wavs + transcripts.tsv, voices.tsv, README.md
    assert a == b


def test_different_seed_differs(corpora: dict[str, Path]) -> None:
    a, other = file_hashes(corpora["a"]), file_hashes(corpora["other"])
    assert a["transcripts.tsv"] != other["transcripts.tsv"]
    assert set(a.values()).isdisjoint(h for k, h in other.items() if k.endswith(".wav"))


def test_wavs_are_16k_int16_mono_nonsilent_and_plausibly_long(corpora: dict[str, Path]) -> None:
    corpus = corpora["a"]
    durations = {}
    for utt, voice, words in read_transcripts(corpus):
        with wave.open(str(corpus / "wav" / voice / f"{utt}.wav")) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        duration = len(samples) / 16000
        assert np.sqrt(np.mean(samples**2)) > 300, f"{utt} is near-silent"
        assert 0.15 * len(words) + 0.1 < duration < 0.8 * len(words) + 0.8, (utt, words, duration)
        durations[utt] = (len(words), duration)
    shortest, longest = min(durations.values(), key=lambda d: d[1]), max(durations.values(), key=lambda d: d[1])
    assert longest[0] > shortest[0]


def test_more_words_take_longer_with_the_same_voice() -> None:
    engine = synth.ESpeak()
    one = engine.synth("en-us+m3", "one", 175, 50, 0)
    five = engine.synth("en-us+m3", "one two three four five", 175, 50, 0)
    assert engine.sample_rate == 22050
    assert len(five) > 3 * len(one) > 0


def test_transcripts_use_the_vocabulary_and_sorted_voice_prefixed_ids(corpora: dict[str, Path]) -> None:
    corpus = corpora["a"]
    rows = read_transcripts(corpus)
    ids = [u for u, _, _ in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 9
    for utt, voice, words in rows:
        assert utt.startswith(f"{voice}-")
        assert 1 <= len(words) <= 7 and set(words) <= set(synth.VOCAB)
    wavs = {p.stem for p in (corpus / "wav").rglob("*.wav")}
    assert wavs == set(ids)


def test_split_is_by_voice(corpora: dict[str, Path]) -> None:
    corpus = corpora["a"]
    split = synth.corpus_split(corpus)
    assert sorted(split) == ["v00", "v01", "v02"]
    assert sorted(split.values()) == ["test", "train", "train"]
    assert {v for _, v, _ in read_transcripts(corpus)} == set(split)


def test_prepare_returns_consistent_manifests(corpora: dict[str, Path]) -> None:
    corpus = corpora["a"]
    parts = load_local("synth_digits").prepare(corpus, {})
    assert set(parts) == {"train", "test"}
    split = synth.corpus_split(corpus)
    texts = {u: " ".join(w) for u, _, w in read_transcripts(corpus)}
    seen = set()
    for name, (recordings, supervisions) in parts.items():
        assert sorted(recordings.ids) == sorted(s.recording_id for s in supervisions) == sorted(supervisions.ids)
        for sup in supervisions:
            rec = recordings[sup.recording_id]
            assert (rec.sampling_rate, rec.num_channels) == (16000, 1)
            assert sup.start == 0 and sup.duration == pytest.approx(rec.duration)
            assert split[sup.speaker] == name and sup.text == texts[sup.id] and sup.language == "English"
        seen |= set(recordings.ids)
    assert seen == set(texts)


def test_prepare_names_the_directory_when_transcripts_are_missing(tmp_path: Path) -> None:
    with pytest.raises(AsrflowError, match=str(tmp_path)):
        load_local("synth_digits").prepare(tmp_path, {})


def test_interrupted_synthesis_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_after_first_voice(items, *args, **kwargs):
        yield next(iter(items))
        raise KeyboardInterrupt

    monkeypatch.setattr(synth, "progress", fail_after_first_voice)
    with pytest.raises(KeyboardInterrupt):
        synth.synthesize_corpus(tmp_path / "corpus", TINY, 1, num_jobs=2)
    assert list(tmp_path.iterdir()) == []


def test_failing_worker_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "BASE_VOICES", ("zz-no-such-voice",))
    with pytest.raises(subprocess.CalledProcessError):
        synth.synthesize_corpus(tmp_path / "corpus", TINY, 1, num_jobs=2)
    assert list(tmp_path.iterdir()) == []


def test_default_config_draws_at_least_16_distinct_voices() -> None:
    for seed in range(5):
        voices = synth.draw_voices({}, np.random.default_rng(seed))
        assert len(voices) == 20 and len({v.espeak_name for v in voices}) >= 16
        assert [v.voice_id for v in voices] == [f"v{i:02d}" for i in range(20)]
        assert sum(v.split == "test" for v in voices) == 4


def test_every_listed_voice_exists_in_espeak_data() -> None:
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    langs = {p.name.lower() for p in (data / "lang").rglob("*") if p.is_file()}
    assert set(synth.BASE_VOICES) <= langs
    assert set(synth.VARIANTS) <= {p.name for p in (data / "voices" / "!v").iterdir()}


def test_bad_config_is_a_user_error() -> None:
    with pytest.raises(AsrflowError, match="test_voices"):
        synth.draw_voices({"num_voices": 2, "test_voices": 2}, np.random.default_rng(0))


def test_resample_keeps_the_passband_and_rejects_aliases() -> None:
    t = np.arange(22050) / 22050
    kept = synth.resample(np.sin(2 * np.pi * 1000 * t), 22050, 16000)
    reference = np.sin(2 * np.pi * 1000 * np.arange(len(kept)) / 16000)
    assert len(kept) == 16000
    assert np.max(np.abs(kept - reference)[200:-200]) < 1e-3
    aliased = synth.resample(np.sin(2 * np.pi * 9000 * t), 22050, 16000)
    assert np.max(np.abs(aliased[200:-200])) < 1e-3
