"""Corpus preparation: run a `local/<corpus>.py` module, validate its parts and write Lhotse + Kaldi manifests.

Layout written by `prepare_parts` (one folder per part):
  out_dir/<part>/recordings.jsonl.gz, supervisions.jsonl.gz   Lhotse manifests (absolute audio paths)
  out_dir/<part>/kaldi/{wav.scp,text,utt2spk,spk2utt}          Kaldi data dir, sorted by id
In wav.scp a recording at the target rate is its plain file path; one that is resampled becomes a
`sox <path> -t wav -r <rate> -b 16 - |` pipe, which is what Kaldi tools expect for on-the-fly conversion.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

import soundfile as sf
from lhotse import AudioSource, Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.utils import fastcopy

from asrflow.common import AsrflowError, atomic_path, get_logger
from asrflow.data.validate import normalise_text, validate_parts

Part = tuple[RecordingSet, SupervisionSet]
LOG = get_logger("data")


def recording_from_file(path: Path, rec_id: str) -> Recording:
    """Describe one audio file as a Recording; unreadable or missing files get a zero-length placeholder.

    The placeholder lets corpus modules list every file, so validation can report all bad files at once.
    """
    try:
        info = sf.info(str(path))
        sr, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    except (OSError, RuntimeError, sf.LibsndfileError):
        sr, channels, frames = 0, 1, 0
    return Recording(
        id=rec_id,
        sources=[AudioSource(type="file", channels=list(range(channels)), source=str(path))],
        sampling_rate=sr,
        num_samples=frames,
        duration=frames / sr if sr else 0.0,
    )


def make_part(utts: list[tuple[str, Path, str, str]]) -> Part:
    """Build (recordings, supervisions) from `(utt_id, audio_path, speaker, text)` rows, one segment per file."""
    recordings, supervisions = [], []
    for utt_id, path, speaker, text in sorted(utts, key=lambda u: u[0]):
        rec = recording_from_file(path, utt_id)
        recordings.append(rec)
        supervisions.append(
            SupervisionSegment(
                id=utt_id, recording_id=utt_id, start=0.0, duration=rec.duration,
                channel=0, text=text, speaker=speaker, language="English",
            )
        )
    return RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions)


def load_local_module(path: Path) -> ModuleType:
    """Import a corpus module (`local/<corpus>.py`) from its file path."""
    path = Path(path)
    if not path.is_file():
        raise AsrflowError(f"corpus module {path} does not exist: check the recipe's `local` setting")
    name = f"asrflow_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for func in ("prepare", "parts"):
        if not callable(getattr(module, func, None)):
            raise AsrflowError(f"corpus module {path} lacks a `{func}(corpus_dir, cfg)` function")
    return module


def resampler_available() -> bool:
    """Tell whether Lhotse can resample here (it needs torchaudio or scipy)."""
    return any(importlib.util.find_spec(m) is not None for m in ("torchaudio", "scipy"))


def finalise(part: Part, cfg: dict, train: bool) -> Part:
    """Normalise transcripts, resample if `resample` is set, and add speed-perturbed copies of a training part."""
    recordings, supervisions = part
    supervisions = SupervisionSet.from_segments(fastcopy(s, text=normalise_text(s.text)) for s in supervisions)
    if cfg.get("resample"):
        sr = int(cfg["sample_rate"])
        if any(r.sampling_rate != sr for r in recordings) and not resampler_available():
            raise AsrflowError(
                f"resampling to {sr} Hz needs scipy or torchaudio in the environment: install one of them, "
                "or convert the corpus to that rate beforehand"
            )
        recordings = RecordingSet.from_recordings(r.resample(sr) for r in recordings)
    if train and cfg.get("speed_perturb"):
        recordings, supervisions = speed_perturb((recordings, supervisions), cfg["speed_perturb"])
    return recordings, supervisions


SPEED_COPY = re.compile(r"sp\d*\.?\d+-")  # the prefix `speed_copy_id` puts before a copy's id


def speed_copy_id(name: str, factor: float) -> str:
    """The utterance, recording or speaker id of `name`'s copy at speed `factor` (Kaldi's `sp0.9-<name>`)."""
    return f"sp{factor:g}-{name}"


def unperturbed(name: str) -> str:
    """The utterance or speaker id a speed-perturbed copy was made from; `name` itself if it is no copy."""
    match = SPEED_COPY.match(name)
    return name[match.end():] if match else name


def speed_perturb(part: Part, factors: list[float]) -> Part:
    """Add copies of every utterance at each speed factor (Kaldi's perturb_data_dir_speed.sh naming).

    A copy of utterance U by speaker S at factor f is utterance `sp<f>-U` by speaker `sp<f>-S`, so
    per-speaker CMVN treats each speed as its own speaker, as Kaldi does.
    """
    recordings, supervisions = part
    recs, sups = list(recordings), list(supervisions)
    by_id = {r.id: r for r in recordings}
    for f in factors:
        for s in supervisions:
            rec = by_id[s.recording_id]
            rec_id = speed_copy_id(rec.id, f)
            recs.append(fastcopy(rec.perturb_speed(f, affix_id=False), id=rec_id))
            sup = s.perturb_speed(f, rec.sampling_rate, affix_id=False)
            sups.append(fastcopy(sup, id=speed_copy_id(s.id, f), recording_id=rec_id,
                                 speaker=speed_copy_id(s.speaker, f)))
    return RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)


SOX_EFFECTS = {"Resample": lambda kw: f"rate {kw['target_sampling_rate']}", "Speed": lambda kw: f"speed {kw['factor']}"}


def wav_scp_entry(rec: Recording) -> str:
    """Return the Kaldi rxfilename of a recording: the file itself or a sox pipe applying its transforms."""
    path = rec.sources[0].source
    if not rec.transforms:
        return path
    effects = []
    for t in rec.transforms:
        d = t if isinstance(t, dict) else t.to_dict()
        effects.append(SOX_EFFECTS[d["name"]](d["kwargs"]))
    return f"sox {shlex.quote(path)} -t wav -b 16 - {' '.join(effects)} |"


def write_kaldi_dir(part: Part, out: Path) -> None:
    """Export a part as a Kaldi data dir (wav.scp, text, utt2spk, spk2utt), every file sorted by id."""
    recordings, supervisions = part
    out.mkdir(parents=True)
    sups = sorted(supervisions, key=lambda s: s.id)
    spk2utt: dict[str, list[str]] = {}
    for s in sups:
        spk2utt.setdefault(s.speaker, []).append(s.id)
    files = {
        "wav.scp": [f"{r.id} {wav_scp_entry(r)}" for r in sorted(recordings, key=lambda r: r.id)],
        "text": [f"{s.id} {s.text}" for s in sups],
        "utt2spk": [f"{s.id} {s.speaker}" for s in sups],
        "spk2utt": [f"{spk} {' '.join(utts)}" for spk, utts in sorted(spk2utt.items())],
    }
    for name, lines in files.items():
        (out / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_part(part: Part, out: Path) -> None:
    """Write one part's Lhotse manifests and Kaldi data dir into `out`."""
    out.mkdir(parents=True)
    part[0].to_file(out / "recordings.jsonl.gz")
    part[1].to_file(out / "supervisions.jsonl.gz")
    write_kaldi_dir(part, out / "kaldi")


def perturb_part(src: Path, factors: list[float], out: Path) -> None:
    """Write `out`, a copy of the part in `src` plus its speed-perturbed copies (Kaldi's train_sp), atomically.

    The neural stages train on such a part while the GMMs keep the original audio, as Kaldi's nnet3 and
    chain recipes do (perturb_data_dir_speed_3way.sh, then align_fmllr.sh of the copies).
    """
    src = Path(src)
    try:
        part = (RecordingSet.from_file(src / "recordings.jsonl.gz"),
                SupervisionSet.from_file(src / "supervisions.jsonl.gz"))
    except (OSError, ValueError) as err:
        raise AsrflowError(f"cannot read the part to perturb in {src} ({err}): rerun the data_prepare rule") from err
    if any(unperturbed(s.id) != s.id for s in part[1]):
        raise AsrflowError(f"{src} already holds speed-perturbed copies: set data.speed_perturb or "
                           "data.nnet_speed_perturb, not both")
    with atomic_path(out) as tmp:
        write_part(speed_perturb(part, factors), tmp)
    LOG.info("part %s: %d utterances at speeds 1, %s", Path(out).name, len(part[1]) * (1 + len(factors)),
             ", ".join(f"{f:g}" for f in factors))


def prepare_parts(local_py: Path, corpus_dir: Path | None, cfg: dict, out_dir: Path) -> None:
    """Run a corpus module, validate every part, then write all parts under `out_dir` atomically."""
    module = load_local_module(local_py)
    parts = module.prepare(corpus_dir, cfg)
    expected = module.parts(corpus_dir, cfg)
    if sorted(parts) != sorted(expected):
        raise AsrflowError(f"{local_py}: prepare() gave parts {sorted(parts)} but parts() promised {sorted(expected)}")
    validate_parts(parts, cfg)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for name, part in sorted(parts.items()):
            write_part(finalise(part, cfg, train=name == "train"), tmp / name)
            LOG.info("part %s: %d utterances", name, len(part[0]))
    LOG.info("wrote %s", out_dir)
