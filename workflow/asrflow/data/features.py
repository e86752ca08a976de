"""Kaldi-compatible MFCC features (kaldi-native-fbank), per-speaker CMVN statistics, CMVN and deltas.

Outputs of `compute_features` in a part dir:
  cuts.jsonl.gz   Lhotse cuts with Features attached, sorted by id; feature storage paths are
                  relative to the part dir (use `load_cuts`, which resolves them)
  feats.lca       Lilcom-compressed features (Lhotse LilcomChunkyWriter)
  cmvn.npz        `speakers` (S,) and `stats` (S, 2, dim + 1) in Kaldi's compute-cmvn-stats layout:
                  row 0 = per-dim sums then frame count, row 1 = per-dim sums of squares then 0
Frame counts follow Kaldi (snip_edges: 1 + (samples - window) // hop), 2 fewer than Lhotse's own
duration / frame_shift convention; Lhotse's `compute_and_store_features` rejects that, so
`extract_all` runs the registered extractor itself and writes the Features manifests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
from lhotse import CutSet, Features, LilcomChunkyWriter, RecordingSet, SupervisionSet
from lhotse.audio.utils import AudioLoadingError
from lhotse.cut import Cut
from lhotse.features.base import FeatureExtractor, register_extractor
from lhotse.utils import fastcopy

from asrflow.common import AsrflowError, get_logger, progress

LOG = get_logger("features")
CMVN_MODES = ("speaker", "utterance", "none")
STORAGE = "feats.lca"  # stored relative to the part dir, so the part dir can move


@dataclass
class MfccConfig:
    """MFCC settings; the defaults are Kaldi's conf/mfcc.conf for GMM systems, without energy."""

    frame_length: float = 0.025
    frame_shift: float = 0.01
    dither: float = 0.0
    preemph_coeff: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    snip_edges: bool = True
    num_bins: int = 23
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means Nyquist + high_freq (Kaldi's convention, which knf shares)
    num_ceps: int = 13
    cepstral_lifter: float = 22.0
    use_energy: bool = False
    seed: int = 0  # dither noise is drawn from a generator seeded by this and the audio itself

    @classmethod
    def from_dict(cls, cfg: dict, seed: int = 0) -> "MfccConfig":
        """Build from the `mfcc` config section (Kaldi option names, milliseconds)."""
        return cls(
            frame_length=cfg.get("frame_length_ms", 25.0) / 1000, frame_shift=cfg.get("frame_shift_ms", 10.0) / 1000,
            dither=float(cfg.get("dither", 0.0)), num_bins=cfg.get("num_mel_bins", 23),
            low_freq=cfg.get("low_freq", 20.0), high_freq=cfg.get("high_freq", 0.0),
            num_ceps=cfg.get("num_ceps", 13), use_energy=cfg.get("use_energy", False), seed=seed,
        )


@register_extractor
class KaldiMfcc(FeatureExtractor):
    """Lhotse extractor computing Kaldi's compute-mfcc-feats with kaldi-native-fbank."""

    name = "asrflow-kaldi-mfcc"
    config_type = MfccConfig

    def options(self, sampling_rate: int) -> knf.MfccOptions:
        """Translate the config into knf options for one sampling rate."""
        c = self.config
        opts = knf.MfccOptions()
        fo = opts.frame_opts
        fo.samp_freq = float(sampling_rate)
        fo.frame_length_ms = c.frame_length * 1000
        fo.frame_shift_ms = c.frame_shift * 1000
        fo.dither = 0.0  # knf's dither is unseeded: `extract` adds Kaldi's Gaussian dither itself
        fo.preemph_coeff = c.preemph_coeff
        fo.remove_dc_offset = c.remove_dc_offset
        fo.window_type = c.window_type
        fo.snip_edges = c.snip_edges
        opts.mel_opts.num_bins = c.num_bins
        opts.mel_opts.low_freq = c.low_freq
        opts.mel_opts.high_freq = c.high_freq
        opts.num_ceps = c.num_ceps
        opts.cepstral_lifter = c.cepstral_lifter
        opts.use_energy = c.use_energy
        return opts

    def extract(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        """Compute (frames x num_ceps) MFCCs from float samples in [-1, 1] (scaled to int16 range like Kaldi)."""
        mfcc = knf.OnlineMfcc(self.options(sampling_rate))
        wave = np.asarray(samples, dtype=np.float32).reshape(-1) * 32768.0
        if self.config.dither > 0:
            rng = np.random.default_rng([self.config.seed, zlib.crc32(wave.tobytes())])
            wave = wave + (self.config.dither * rng.standard_normal(len(wave))).astype(np.float32)
        mfcc.accept_waveform(float(sampling_rate), wave)
        mfcc.input_finished()
        n = mfcc.num_frames_ready
        if n == 0:
            return np.zeros((0, self.config.num_ceps), dtype=np.float32)
        return np.stack([mfcc.get_frame(i) for i in range(n)]).astype(np.float32)

    @property
    def frame_shift(self) -> float:
        """Frame shift in seconds."""
        return self.config.frame_shift

    def feature_dim(self, sampling_rate: int) -> int:
        """Number of cepstra per frame."""
        return self.config.num_ceps


def delta_windows(order: int, window: int) -> list[np.ndarray]:
    """Return Kaldi's DeltaFeatures scales: window i is the i-fold convolution of j / (2 sum j^2), j = -N..N."""
    first = np.arange(-window, window + 1, dtype=np.float64) / (2 * sum(j * j for j in range(1, window + 1)))
    windows = [np.ones(1)]
    for _ in range(order):
        windows.append(np.convolve(windows[-1], first))
    return windows


def add_deltas(feats: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Append delta features exactly like Kaldi's add-deltas (edge frames replicated); output float32."""
    feats = np.asarray(feats, dtype=np.float64)
    num_frames, dim = feats.shape
    if num_frames == 0:
        return np.zeros((0, dim * (order + 1)), dtype=np.float32)
    blocks = []
    for scales in delta_windows(order, window):
        half = len(scales) // 2
        padded = np.pad(feats, ((half, half), (0, 0)), mode="edge")
        blocks.append(sum(s * padded[j:j + num_frames] for j, s in enumerate(scales)))
    return np.concatenate(blocks, axis=1).astype(np.float32)


def cmvn_stats(feats: np.ndarray) -> np.ndarray:
    """Return Kaldi compute-cmvn-stats statistics (2 x dim+1, float64) of one feature matrix."""
    feats = np.asarray(feats, dtype=np.float64)
    stats = np.zeros((2, feats.shape[1] + 1))
    stats[0, :-1] = feats.sum(axis=0)
    stats[1, :-1] = (feats * feats).sum(axis=0)
    stats[0, -1] = feats.shape[0]
    return stats


def apply_cmvn(feats: np.ndarray, stats: np.ndarray, norm_vars: bool = False) -> np.ndarray:
    """Normalise features with CMVN statistics exactly like Kaldi's apply-cmvn (variance floored at 1e-20)."""
    count = stats[0, -1]
    if count < 1.0:
        raise AsrflowError(f"CMVN statistics cover {count} frames (< 1): the speaker has no usable audio")
    mean = stats[0, :-1] / count
    if not norm_vars:
        return (np.asarray(feats, dtype=np.float64) - mean).astype(np.float32)
    var = np.maximum(stats[1, :-1] / count - mean * mean, 1e-20)
    return ((np.asarray(feats, dtype=np.float64) - mean) / np.sqrt(var)).astype(np.float32)


def load_cuts(part_dir: Path) -> CutSet:
    """Load a part's cuts with feature storage paths resolved against the part dir."""
    path = Path(part_dir) / "cuts.jsonl.gz"
    if not path.is_file():
        raise AsrflowError(f"{path} is missing: run the features step for {part_dir} first")
    return CutSet.from_file(path).with_features_path_prefix(str(part_dir))


def speaker_stats(cuts: CutSet) -> tuple[np.ndarray, np.ndarray]:
    """Accumulate per-speaker CMVN statistics over the stored features; return (speakers, stats)."""
    acc: dict[str, np.ndarray] = {}
    for cut in progress(cuts, len(cuts), LOG, "cmvn stats"):
        stats = cmvn_stats(cut.features.load())
        spk = cut.supervisions[0].speaker
        acc[spk] = acc[spk] + stats if spk in acc else stats
    speakers = sorted(acc)
    return np.array(speakers), np.stack([acc[s] for s in speakers])


def extract_cut(job: tuple[KaldiMfcc, Cut]) -> np.ndarray:
    """Load one cut's audio (resampled if its recording says so) and compute its MFCCs."""
    extractor, cut = job
    try:
        audio = cut.load_audio()
    except AudioLoadingError as err:
        raise AsrflowError(f"utterance {cut.id}: cannot load its audio ({str(err).splitlines()[0]}): "
                           "restore the file and re-run data preparation, which validates the corpus") from None
    return extractor.extract(audio, cut.sampling_rate)


def features_manifest(cut: Cut, feats: np.ndarray, extractor: KaldiMfcc, key: str) -> Features:
    """Describe stored features; duration is num_frames x frame_shift so Lhotse's consistency check holds.

    With snip_edges Kaldi yields 2 frames fewer than Lhotse's duration / frame_shift, hence not the audio duration.
    """
    return Features(
        type=extractor.name, num_frames=feats.shape[0], num_features=feats.shape[1],
        frame_shift=extractor.frame_shift, sampling_rate=cut.sampling_rate, start=0.0,
        duration=round(feats.shape[0] * extractor.frame_shift, 8), storage_type=LilcomChunkyWriter.name,
        storage_path=STORAGE, storage_key=key, channels=0, recording_id=cut.recording_id,
    )


def extract_all(cuts: CutSet, cfg: dict, out_dir: Path, num_jobs: int) -> CutSet:
    """Compute MFCCs for all cuts (in `num_jobs` processes) into out_dir/feats.lca; return the cuts with features."""
    extractor = KaldiMfcc(MfccConfig.from_dict(cfg, seed=int(cfg.get("seed", 0))))
    jobs = [(extractor, cut) for cut in cuts]
    done = []
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(LilcomChunkyWriter(out_dir / STORAGE))
        if num_jobs > 1:
            mapped = stack.enter_context(ProcessPoolExecutor(num_jobs)).map(extract_cut, jobs, chunksize=8)
        else:
            mapped = map(extract_cut, jobs)
        for cut, feats in progress(zip(cuts, mapped), len(jobs), LOG, "mfcc"):
            if feats.shape[0] == 0:
                raise AsrflowError(f"utterance {cut.id} is too short for one 25 ms frame: remove it from the corpus")
            key = writer.write(cut.id, feats)
            done.append(fastcopy(cut, features=features_manifest(cut, feats, extractor, key)))
    return CutSet.from_cuts(sorted(done, key=lambda c: c.id))


def compute_features(part_dir: Path, cfg: dict, num_jobs: int) -> None:
    """Compute MFCCs, cuts and per-speaker CMVN stats for one part, all built in a temp dir then moved in."""
    part_dir = Path(part_dir)
    recordings = RecordingSet.from_file(part_dir / "recordings.jsonl.gz")
    supervisions = SupervisionSet.from_file(part_dir / "supervisions.jsonl.gz")
    cuts = CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    cuts = CutSet.from_cuts(fastcopy(c, id=c.recording_id) for c in cuts)  # Lhotse appends "-<channel>"
    tmp = Path(tempfile.mkdtemp(prefix=".features.", suffix=".tmp", dir=part_dir))
    try:
        done = extract_all(cuts, cfg, tmp, num_jobs)
        speakers, stats = speaker_stats(done.with_features_path_prefix(str(tmp)))
        np.savez(tmp / "cmvn.npz", speakers=speakers, stats=stats)
        done.to_file(tmp / "cuts.jsonl.gz")
        for name in [STORAGE, "cmvn.npz", "cuts.jsonl.gz"]:  # cuts.jsonl.gz last: it marks the step done
            os.replace(tmp / name, part_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    LOG.info("%s: features for %d utterances, %d speakers", part_dir, len(done), len(speakers))


def load_cmvn(part_dir: Path) -> dict[str, np.ndarray]:
    """Load per-speaker CMVN statistics: speaker -> (2, dim + 1) Kaldi stats."""
    with np.load(Path(part_dir) / "cmvn.npz") as z:
        return dict(zip(z["speakers"].tolist(), z["stats"]))


def normalise(feats: np.ndarray, speaker: str, cmvn: str, spk_stats: dict[str, np.ndarray],
              norm_vars: bool = False) -> np.ndarray:
    """Apply mean (and optionally variance) normalisation per speaker, per utterance, or not at all."""
    if cmvn == "speaker":
        return apply_cmvn(feats, spk_stats[speaker], norm_vars)
    if cmvn == "utterance":
        return apply_cmvn(feats, cmvn_stats(feats), norm_vars)
    return np.asarray(feats, dtype=np.float32)


def load_features(part_dir: Path, deltas: int = 2, cmvn: str = "speaker",
                  norm_vars: bool = False) -> dict[str, np.ndarray]:
    """Load utterance id -> float32 (frames x dim) features, CMVN-normalised then with deltas appended."""
    if cmvn not in CMVN_MODES:
        raise AsrflowError(f"cmvn must be one of {CMVN_MODES}, got {cmvn!r}")
    spk_stats = load_cmvn(part_dir) if cmvn == "speaker" else {}
    out = {}
    for cut in load_cuts(part_dir):
        feats = normalise(cut.features.load(), cut.supervisions[0].speaker, cmvn, spk_stats, norm_vars)
        out[cut.id] = add_deltas(feats, order=deltas) if deltas else feats
    return out


@dataclass(frozen=True)
class Utterance:
    """One utterance of a part: what later stages need besides features."""

    id: str
    speaker: str
    text: str
    duration: float
    audio_path: str


def load_utterances(part_dir: Path) -> list[Utterance]:
    """List a part's utterances (from its manifests), sorted by id."""
    recordings = RecordingSet.from_file(Path(part_dir) / "recordings.jsonl.gz")
    paths = {r.id: r.sources[0].source for r in recordings}
    sups = SupervisionSet.from_file(Path(part_dir) / "supervisions.jsonl.gz")
    return sorted(
        (Utterance(s.id, s.speaker, s.text, s.duration, paths[s.recording_id]) for s in sups),
        key=lambda u: u.id,
    )
