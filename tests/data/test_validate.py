"""Bad corpus input: each class fails prepare_parts with a message naming the culprit, leaving no output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import RecordingSet, SupervisionSet

from asrflow.common import AsrflowError
from asrflow.data.corpus import prepare_parts, resampler_available
from asrflow.data.validate import normalise_text

FAKE_MODULE = '''
from pathlib import Path
from asrflow.data.corpus import make_part

def parts(corpus_dir, cfg):
    return ["train"]

def prepare(corpus_dir, cfg):
    return {"train": make_part([(u, Path(corpus_dir) / f, "spk", t) for u, f, t in cfg["utts"]])}
'''


def tone(seconds: float, rate: int = 8000, channels: int = 1) -> np.ndarray:
    """A quiet sine tone as int16 samples."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus folder holding one good file, good.wav."""
    root = tmp_path / "corpus"
    root.mkdir()
    sf.write(root / "good.wav", tone(1.0), 8000)
    (tmp_path / "fake.py").write_text(FAKE_MODULE)
    return root


def run_prepare(corpus: Path, utts: list[tuple[str, str, str]], **cfg) -> Path:
    """Prepare `good` plus the given (utt, file, text) rows; return the output dir it used."""
    out = corpus.parent / "out"
    cfg = {"sample_rate": 8000, "utts": [("good", "good.wav", "YES NO")] + utts, **cfg}
    prepare_parts(corpus.parent / "fake.py", corpus, cfg, out)
    return out


def assert_fails(corpus: Path, utts: list[tuple[str, str, str]], *needles: str, **cfg) -> str:
    """Assert preparation fails naming every needle and leaves nothing next to the corpus."""
    with pytest.raises(AsrflowError) as err:
        run_prepare(corpus, utts, **cfg)
    for needle in needles:
        assert needle in str(err.value)
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["corpus", "fake.py"]
    return str(err.value)


def test_good_input_passes_and_text_is_normalised(corpus):
    sf.write(corpus / "wide.wav", tone(0.5), 8000)
    out = run_prepare(corpus, [("wide", "wide.wav", "ｙｅｓ\t no ")])
    sups = SupervisionSet.from_file(out / "train" / "supervisions.jsonl.gz")
    assert {s.id: s.text for s in sups} == {"good": "YES NO", "wide": "YES NO"}
    assert (out / "train" / "kaldi" / "text").read_text() == "good YES NO\nwide YES NO\n"


def test_corrupt_wav(corpus):
    (corpus / "bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(7, 90)))
    msg = assert_fails(corpus, [("bad", "bad.wav", "YES")], "bad.wav", "unreadable or corrupt")
    assert "utterance bad" in msg


def test_truncated_header(corpus):
    (corpus / "cut.wav").write_bytes((corpus / "good.wav").read_bytes()[:20])
    assert_fails(corpus, [("cut", "cut.wav", "YES")], "cut.wav", "unreadable or corrupt")


def test_empty_wav(corpus):
    sf.write(corpus / "empty.wav", np.zeros(0, dtype=np.int16), 8000)
    assert_fails(corpus, [("empty", "empty.wav", "YES")], "empty.wav", "0 samples")


def test_missing_file(corpus):
    assert_fails(corpus, [("gone", "gone.wav", "YES")], "gone.wav", "missing")


def test_too_short(corpus):
    sf.write(corpus / "blip.wav", tone(0.05), 8000)
    assert_fails(corpus, [("blip", "blip.wav", "YES")], "blip.wav", "too short", "data.min_duration")


def test_min_duration_is_configurable(corpus):
    sf.write(corpus / "blip.wav", tone(0.05), 8000)
    assert (run_prepare(corpus, [("blip", "blip.wav", "YES")], min_duration=0.03) / "train").is_dir()


def test_wrong_sample_rate_without_resampling(corpus):
    sf.write(corpus / "wide.wav", tone(1.0, 16000), 16000)
    assert_fails(corpus, [("wide", "wide.wav", "YES")], "wide.wav", "16000 Hz", "set data.resample: true")


def test_stereo(corpus):
    sf.write(corpus / "two.wav", tone(1.0, channels=2), 8000)
    assert_fails(corpus, [("two", "two.wav", "YES")], "two.wav", "2 channels")


def test_empty_transcript(corpus):
    sf.write(corpus / "quiet.wav", tone(1.0), 8000)
    assert_fails(corpus, [("quiet", "quiet.wav", "  \t ")], "utterance quiet", "quiet.wav", "empty transcript")


def test_zero_width_space(corpus):
    sf.write(corpus / "odd.wav", tone(1.0), 8000)
    assert_fails(corpus, [("odd", "odd.wav", "YES\u200bNO")], "utterance odd", "odd.wav", "U+200B", "ZERO WIDTH")


def test_control_character(corpus):
    sf.write(corpus / "ctl.wav", tone(1.0), 8000)
    assert_fails(corpus, [("ctl", "ctl.wav", "YES\x07")], "utterance ctl", "U+0007")


def test_duplicate_utterance_ids(corpus):
    assert_fails(corpus, [("good", "good.wav", "NO")], "duplicate", "good")


def test_all_problems_reported_together(corpus):
    sf.write(corpus / "odd.wav", tone(1.0), 8000)
    assert_fails(corpus, [("gone", "gone.wav", "YES"), ("odd", "odd.wav", "\u200b")],
                 "2 problem(s)", "gone.wav", "odd.wav")


def test_normalise_text():
    assert normalise_text("  ｆｉｆｔｈ\u00a0ave ") == "FIFTH AVE"


def test_resampling_on(corpus):
    sf.write(corpus / "wide.wav", tone(1.0, 16000), 16000)
    if not resampler_available():
        assert_fails(corpus, [("wide", "wide.wav", "YES")], "needs scipy or torchaudio", resample=True)
        return
    out = run_prepare(corpus, [("wide", "wide.wav", "YES")], resample=True)
    assert f"wide sox {corpus / 'wide.wav'} -t wav -b 16 - rate 8000 |" in (out / "train/kaldi/wav.scp").read_text()
    assert {r.sampling_rate for r in RecordingSet.from_file(out / "train/recordings.jsonl.gz")} == {8000}
