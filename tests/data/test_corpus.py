"""Corpus modules (yesno, fsdd, an4), prepare_parts outputs and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import RecordingSet, SupervisionSet

from asrflow.common import AsrflowError
from asrflow.data.__main__ import main
from asrflow.data.corpus import load_local_module, perturb_part, prepare_parts, unperturbed
from asrflow.data.features import compute_features, load_features

LOCAL = Path(__file__).resolve().parents[2] / "local"


def load_part(out: Path, part: str) -> tuple[RecordingSet, SupervisionSet]:
    """Read one written part's manifests."""
    return (RecordingSet.from_file(out / part / "recordings.jsonl.gz").to_eager(),
            SupervisionSet.from_file(out / part / "supervisions.jsonl.gz").to_eager())


def speakers(part) -> set[str]:
    """Speakers of an in-memory part."""
    return {s.speaker for s in part[1]}


def test_yesno_kaldi_split(corpora_dir, tmp_path):
    out = tmp_path / "yesno"
    prepare_parts(LOCAL / "yesno.py", corpora_dir / "yesno", {"sample_rate": 8000}, out)
    names = sorted(p.stem for p in (corpora_dir / "yesno").glob("*.wav"))
    train, test = load_part(out, "train"), load_part(out, "test")
    assert list(train[0].ids) == names[:31] and list(test[0].ids) == names[31:]
    for sup in list(train[1]) + list(test[1]):
        assert sup.text == " ".join({"0": "NO", "1": "YES"}[c] for c in sup.id.split("_"))
        assert sup.speaker == "yesno" and sup.language == "English" and sup.start == 0
    kaldi = out / "train" / "kaldi"
    text = (kaldi / "text").read_text().splitlines()
    assert text == sorted(text) and len(text) == 31
    assert (kaldi / "spk2utt").read_text().split() == ["yesno"] + names[:31]
    assert (kaldi / "wav.scp").read_text().splitlines()[0] == f"{names[0]} {corpora_dir / 'yesno' / names[0]}.wav"


def test_yesno_uses_download_dir_without_corpus_dir(corpora_dir, tmp_path):
    waves = tmp_path / "download" / "waves_yesno"  # what download_yesno leaves; `.completed` skips the download
    waves.mkdir(parents=True)
    for wav in (corpora_dir / "yesno").glob("*.wav"):
        (waves / wav.name).symlink_to(wav)
    (waves / ".completed").touch()
    module = load_local_module(LOCAL / "yesno.py")
    parts = module.prepare(None, {"download_dir": str(tmp_path / "download")})
    assert {k: len(v[0]) for k, v in parts.items()} == {"train": 31, "test": 29}


def test_fsdd_speaker_split(corpora_dir):
    module = load_local_module(LOCAL / "fsdd.py")
    parts = module.prepare(corpora_dir / "fsdd", {"test_speakers": ["lucas"]})
    assert module.parts(corpora_dir / "fsdd", {}) == ["train", "test"]
    assert (len(parts["train"][0]), len(parts["test"][0])) == (1500, 500)
    assert speakers(parts["test"]) == {"lucas"} and "lucas" not in speakers(parts["train"])
    sup = parts["test"][1]["lucas-3-07"]
    assert sup.text == "THREE" and sup.speaker == "lucas"


def test_fsdd_default_split_is_takes(corpora_dir):
    parts = load_local_module(LOCAL / "fsdd.py").prepare(corpora_dir / "fsdd", {"test_speakers": []})
    assert (len(parts["train"][0]), len(parts["test"][0])) == (1800, 200)
    assert {int(i.rsplit("-", 1)[1]) for i in parts["test"][0].ids} == set(range(5))
    assert min(int(i.rsplit("-", 1)[1]) for i in parts["train"][0].ids) == 5


def test_fsdd_unknown_test_speaker(corpora_dir):
    with pytest.raises(AsrflowError, match="available speakers.*jackson"):
        load_local_module(LOCAL / "fsdd.py").prepare(corpora_dir / "fsdd", {"test_speakers": ["nobody"]})


def test_an4_train_dev_by_speaker(corpora_dir, tmp_path):
    out = tmp_path / "an4"
    module = load_local_module(LOCAL / "an4.py")
    assert module.parts(corpora_dir / "an4", {}) == ["train", "dev"]
    prepare_parts(LOCAL / "an4.py", corpora_dir / "an4", {"sample_rate": 16000}, out)
    assert sorted(p.name for p in out.iterdir()) == ["dev", "train"]
    train, dev = load_part(out, "train"), load_part(out, "dev")
    assert len(train[0]) + len(dev[0]) == 948
    assert len(speakers(dev)) == 8 and not speakers(train) & speakers(dev)
    sup = train[1]["fash-an251-fash-b"]
    assert sup.text == "YES" and sup.speaker == "fash"


def write_an4_set(root: Path, wav_dir: str, trans: str, utts: dict[str, str]) -> None:
    """Write a tiny AN4-layout set: utt id `<n>-<spk>-b` -> text, one 0.5 s wav each."""
    lines = []
    for utt, text in utts.items():
        wav = root / "wav" / wav_dir / utt.split("-")[1] / f"{utt}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, np.zeros(8000, dtype=np.int16), 16000)
        lines.append(f"<s> {text} </s> ({utt})")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / trans).write_text("\n".join(lines) + "\n")


def test_an4_uses_test_part_when_present(tmp_path):
    root = tmp_path / "an4"
    write_an4_set(root, "an4_clstk", "an4_train.transcription",
                  {"an1-aaa-b": "YES", "an2-bbb-b": "NO", "an3-ccc-b": "ENTER ONE"})
    write_an4_set(root, "an4test_clstk", "an4_test.transcription", {"an9-zzz-b": "GO", "an8-zzz-b": "STOP"})
    cfg = {"sample_rate": 16000, "dev_speakers": ["bbb"]}
    assert load_local_module(LOCAL / "an4.py").parts(root, cfg) == ["train", "dev", "test"]
    prepare_parts(LOCAL / "an4.py", root, cfg, tmp_path / "out")
    assert list(load_part(tmp_path / "out", "test")[0].ids) == ["zzz-an8-zzz-b", "zzz-an9-zzz-b"]
    assert list(load_part(tmp_path / "out", "dev")[0].ids) == ["bbb-an2-bbb-b"]
    assert load_part(tmp_path / "out", "train")[1]["ccc-an3-ccc-b"].text == "ENTER ONE"


def test_an4_transcript_without_wav(tmp_path):
    root = tmp_path / "an4"
    write_an4_set(root, "an4_clstk", "an4_train.transcription", {"an1-aaa-b": "YES", "an2-bbb-b": "NO"})
    with open(root / "etc" / "an4_train.transcription", "a") as f:
        f.write("<s> GO </s> (an7-aaa-b)\n")
    with pytest.raises(AsrflowError, match="an7-aaa-b"):
        load_local_module(LOCAL / "an4.py").prepare(root, {"num_dev_speakers": 1})


def test_cli_prepare_and_error(corpora_dir, tmp_path, capsys):
    args = ["prepare", "--local", str(LOCAL / "yesno.py"), "--corpus-dir", str(corpora_dir / "yesno"), "--out"]
    assert main(args + [str(tmp_path / "ok"), "--cfg", '{"sample_rate": 8000}']) == 0
    assert (tmp_path / "ok" / "test" / "kaldi" / "utt2spk").is_file()
    assert main(args + [str(tmp_path / "bad"), "--cfg", '{"sample_rate": 16000}']) == 1
    err = capsys.readouterr().err
    assert "data.resample: true" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_speed_perturbation_adds_kaldi_named_copies_of_train_only(corpora_dir: Path, tmp_path: Path) -> None:
    cfg = {"sample_rate": 8000, "resample": False, "min_duration": 0.1, "speed_perturb": [0.9, 1.1]}
    prepare_parts(LOCAL / "yesno.py", corpora_dir / "yesno", cfg, tmp_path / "data")
    train = (tmp_path / "data/train/kaldi/utt2spk").read_text().splitlines()
    assert len(train) == 3 * 31 and "sp0.9-0_0_0_0_1_1_1_1 sp0.9-yesno" in train
    assert {unperturbed(line.split()[1]) for line in train} == {"yesno"}
    assert unperturbed("sp1.1-0_0_0_0_1_1_1_1") == "0_0_0_0_1_1_1_1" == unperturbed("0_0_0_0_1_1_1_1")
    assert len((tmp_path / "data/test/kaldi/utt2spk").read_text().splitlines()) == 29
    assert "speed 0.9 |" in (tmp_path / "data/train/kaldi/wav.scp").read_text()
    compute_features(tmp_path / "data/train", {"dither": 0.0}, num_jobs=1)
    feats = load_features(tmp_path / "data/train")
    slow, orig = feats["sp0.9-0_0_0_0_1_1_1_1"], feats["0_0_0_0_1_1_1_1"]
    assert abs(len(slow) - len(orig) / 0.9) <= 2


def test_nnet_speed_perturbation_writes_train_sp_and_leaves_train_alone(corpora_dir: Path, tmp_path: Path) -> None:
    cfg = {"sample_rate": 8000, "resample": False, "min_duration": 0.1}
    prepare_parts(LOCAL / "yesno.py", corpora_dir / "yesno", cfg, tmp_path / "data")
    train_before = (tmp_path / "data/train/kaldi/utt2spk").read_text()
    args = ["speed_perturb", "--src", str(tmp_path / "data/train"), "--factors", "0.9", "1.1"]
    assert main(args + ["--out", str(tmp_path / "data/train_sp")]) == 0
    assert (tmp_path / "data/train/kaldi/utt2spk").read_text() == train_before  # the GMMs' part is untouched
    recs, sups = load_part(tmp_path / "data", "train_sp")
    ids = {s.id for s in sups}
    assert len(ids) == 3 * 31 and {"0_0_0_0_1_1_1_1", "sp0.9-0_0_0_0_1_1_1_1", "sp1.1-0_0_0_0_1_1_1_1"} <= ids
    assert speakers((recs, sups)) == {"yesno", "sp0.9-yesno", "sp1.1-yesno"}
    slow = next(s for s in sups if s.id == "sp0.9-0_0_0_0_1_1_1_1")
    orig = next(s for s in sups if s.id == "0_0_0_0_1_1_1_1")
    assert slow.duration == pytest.approx(orig.duration / 0.9, abs=1e-3) and slow.text == orig.text
    # perturbing a part that already holds copies would stack the speeds: refused, nothing written
    with pytest.raises(AsrflowError, match="not both"):
        perturb_part(tmp_path / "data/train_sp", [0.9], tmp_path / "data/twice")
    assert not (tmp_path / "data/twice").exists()
    with pytest.raises(AsrflowError, match="nope.*rerun the data_prepare rule"):
        perturb_part(tmp_path / "nope", [0.9], tmp_path / "data/none")
