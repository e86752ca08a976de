"""Offline synthetic connected-digits corpus (TIDIGITS-like) spoken by eSpeak NG voices.

eSpeak NG keeps hidden state across calls (its flutter and noise generators are never reset), so each
voice is synthesized in a fresh worker interpreter: the output then depends only on the seed and config,
never on `num_jobs` or on which voices ran before.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from asrflow.common import AsrflowError, atomic_path, get_logger, progress

log = get_logger("synth")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding `asrflow`, for worker processes

VOCAB = ("ZERO", "OH", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
BASE_VOICES = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6)) + ("croak", "klatt", "klatt2", "klatt3")
PITCH_RANGE = (30, 70)  # eSpeak pitch 0..100, default 50
RATE_RANGE = (140, 200)  # words per minute, eSpeak default 175
COMMA_PROB = 0.2  # chance of a comma (short pause) between two digits
PEAK = 0.5  # speech peak before noise, as a fraction of full scale: leaves headroom so noise never clips

DEFAULTS: dict = {
    "num_voices": 20,
    "test_voices": 4,
    "utts_per_voice": 40,
    "min_words": 1,
    "max_words": 7,
    "snr_db": [15, 35],
    "lead_silence_s": [0.05, 0.3],
    "sample_rate": 16000,
}


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an eSpeak base voice, a variant, and its pitch and rate."""

    voice_id: str
    base: str
    variant: str
    pitch: int
    rate: int
    split: str

    @property
    def espeak_name(self) -> str:
        """The name eSpeak's SetVoiceByName understands, e.g. `en-us+f2`."""
        return f"{self.base}+{self.variant}"


@dataclass(frozen=True)
class Utterance:
    """Everything drawn for one utterance, so workers draw nothing from the corpus rng themselves."""

    utt_id: str
    words: tuple[str, ...]
    text: str
    snr_db: float
    pink: bool
    lead_s: float
    trail_s: float
    noise_seed: int


class ESpeak:
    """Minimal ctypes binding to libespeak-ng in synchronous mode; the library is a process-wide singleton."""

    AUDIO_OUTPUT_SYNCHRONOUS = 2
    INITIALIZE_DONT_EXIT = 0x8000
    RATE, PITCH = 1, 3
    POS_CHARACTER = 1
    CHARS_UTF8 = 1

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self._lib.espeak_Initialize(self.AUDIO_OUTPUT_SYNCHRONOUS, 0, data, self.INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise AsrflowError(f"eSpeak NG failed to initialize with data {data.decode()}; reinstall espeakng-loader")
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # kept alive: the library holds only a raw pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), n: int, _events: int) -> int:
        """Synth callback: copy `n` samples out of eSpeak's buffer; returning 0 means carry on."""
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        return 0

    def synth(self, voice: str, text: str, rate: int, pitch: int, seed: int) -> np.ndarray:
        """Speak `text` with `voice` (e.g. `en-us+f2`) and return int16 samples at `self.sample_rate`.

        `seed` reseeds eSpeak's own generator, which breathy variants (f2, f3, f5) use and which it
        otherwise seeds from the clock.
        """
        self._lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise AsrflowError(f"eSpeak NG has no voice {voice!r}; pick a base voice and variant from its data dir")
        self._lib.espeak_SetParameter(self.RATE, rate, 0)
        self._lib.espeak_SetParameter(self.PITCH, pitch, 0)
        self._chunks = []
        data = text.encode()
        if self._lib.espeak_Synth(data, len(data) + 1, 0, self.POS_CHARACTER, 0, self.CHARS_UTF8, None, None) != 0:
            raise RuntimeError(f"espeak_Synth failed on {text!r} with voice {voice}")
        self._lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)


def _config(cfg: dict) -> dict:
    """Merge `cfg` over the defaults and reject values that cannot make a corpus."""
    c = {**DEFAULTS, **cfg}
    combos = len(BASE_VOICES) * len(VARIANTS)
    if not 0 < c["num_voices"] <= combos:
        raise AsrflowError(f"synth.num_voices={c['num_voices']} must be in 1..{combos}; fix conf/synth_digits.yaml")
    if not 0 <= c["test_voices"] < c["num_voices"]:
        raise AsrflowError(f"synth.test_voices={c['test_voices']} must be below num_voices; fix conf/synth_digits.yaml")
    if not 1 <= c["min_words"] <= c["max_words"]:
        raise AsrflowError("synth.min_words must be >= 1 and <= synth.max_words; fix conf/synth_digits.yaml")
    return c


def draw_voices(cfg: dict, rng: np.random.Generator) -> list[Voice]:
    """Draw distinct (base voice, variant) speakers with random pitch and rate; a random subset is the test split."""
    c = _config(cfg)
    n = c["num_voices"]
    combos = rng.choice(len(BASE_VOICES) * len(VARIANTS), size=n, replace=False)
    pitches = rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1, size=n)
    rates = rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1, size=n)
    test = set(rng.choice(n, size=c["test_voices"], replace=False).tolist())
    width = max(2, len(str(n - 1)))
    return [Voice(f"v{i:0{width}d}", BASE_VOICES[k // len(VARIANTS)], VARIANTS[k % len(VARIANTS)], int(pitches[i]),
                  int(rates[i]), "test" if i in test else "train") for i, k in enumerate(combos.tolist())]


def draw_utterance(utt_id: str, c: dict, rng: np.random.Generator) -> Utterance:
    """Draw one utterance: digit string, pauses, noise type and SNR, silence padding, noise seed."""
    n = int(rng.integers(c["min_words"], c["max_words"] + 1))
    words = tuple(str(w) for w in rng.choice(VOCAB, size=n))
    commas = rng.random(n - 1) < COMMA_PROB
    text = words[0].lower() + "".join((", " if comma else " ") + w.lower() for comma, w in zip(commas, words[1:]))
    lead, trail = rng.uniform(*c["lead_silence_s"], size=2)
    return Utterance(utt_id, words, text, float(rng.uniform(*c["snr_db"])), bool(rng.random() < 0.5),
                     float(lead), float(trail), int(rng.integers(2**31)))


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling (Kaiser-windowed sinc, ~80 dB stopband) without scipy."""
    g = gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    x = x.astype(np.float64)
    if up == down:
        return x
    ratio = min(1.0, up / down)
    cutoff = 0.5 * ratio * 0.92  # cycles per input sample: transition band ends near the output Nyquist
    half = int(np.ceil(32 / ratio))  # 32 zero crossings each side, in input samples
    offsets = np.arange(-half + 1, half + 1)
    tau = offsets[None, :] - np.arange(up)[:, None] / up  # (phase, tap) distance from the output instant
    window = np.i0(8.0 * np.sqrt(np.clip(1 - (tau / (half + 1)) ** 2, 0, None))) / np.i0(8.0)
    table = 2 * cutoff * np.sinc(2 * cutoff * tau) * window
    table /= table.sum(axis=1, keepdims=True)
    pos = np.arange(int(np.ceil(len(x) * up / down))) * down
    base, phase = pos // up + half, pos % up
    padded = np.concatenate([np.zeros(half), x, np.zeros(half)])
    return sum(table[phase, j] * padded[base + off] for j, off in enumerate(offsets))


def make_noise(n: int, pink: bool, rng: np.random.Generator) -> np.ndarray:
    """Unit-power white or pink (1/f power) noise of `n` samples."""
    white = rng.standard_normal(n)
    if pink and n > 1:
        spectrum = np.fft.rfft(white)
        f = np.arange(len(spectrum), dtype=np.float64)
        spectrum[1:] /= np.sqrt(f[1:])
        spectrum[0] = 0
        white = np.fft.irfft(spectrum, n)
    return white / max(np.sqrt(np.mean(white**2)), 1e-12)


def render(speech: np.ndarray, utt: Utterance, rate: int) -> np.ndarray:
    """Scale speech to a fixed peak, pad it with silence and add noise at the utterance's SNR; return int16."""
    speech = speech / max(np.abs(speech).max(), 1e-9) * PEAK
    lead, trail = round(utt.lead_s * rate), round(utt.trail_s * rate)
    signal = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    noise_rms = np.sqrt(np.mean(speech**2) / 10 ** (utt.snr_db / 10))
    signal += noise_rms * make_noise(len(signal), utt.pink, np.random.default_rng(utt.noise_seed))
    return np.clip(np.round(signal * 32767), -32768, 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write 16-bit mono PCM with the stdlib writer, whose header is byte-stable."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def synth_voice(voice: Voice, utts: list[Utterance], wav_dir: Path, rate: int) -> None:
    """Worker: synthesize all of one voice's utterances into `wav_dir/<voice_id>/` in a fresh eSpeak."""
    engine = ESpeak()
    out = wav_dir / voice.voice_id
    out.mkdir(parents=True)
    for utt in utts:
        raw = engine.synth(voice.espeak_name, utt.text, voice.rate, voice.pitch, utt.noise_seed)
        if raw.size == 0:
            raise RuntimeError(f"eSpeak produced no audio for {utt.utt_id} ({utt.text!r}, {voice.espeak_name})")
        write_wav(out / f"{utt.utt_id}.wav", render(resample(raw, engine.sample_rate, rate), utt, rate), rate)


def _worker_main() -> None:
    """Entry point of a worker process: read one pickled `synth_voice` task from stdin and run it."""
    synth_voice(*pickle.load(sys.stdin.buffer))


def _run_worker(task: tuple) -> str:
    """Run one voice in a fresh interpreter (not multiprocessing, so callers need no `__main__` guard)."""
    paths = [str(PACKAGE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    code = "from asrflow.data.synth import _worker_main; _worker_main()"
    subprocess.run([sys.executable, "-c", code], input=pickle.dumps(task), env=env, check=True)
    return task[0].voice_id


def _write_tables(out: Path, voices: list[Voice], plans: dict[str, list[Utterance]]) -> None:
    """Write transcripts.tsv (utt, voice, WORDS) and voices.tsv (voice, base, variant, pitch, rate, split)."""
    rows = [f"{u.utt_id}\t{v.voice_id}\t{' '.join(u.words)}\n" for v in voices for u in plans[v.voice_id]]
    (out / "transcripts.tsv").write_text("".join(rows), encoding="utf-8")
    vrows = [f"{v.voice_id}\t{v.base}\t{v.variant}\t{v.pitch}\t{v.rate}\t{v.split}\n" for v in voices]
    (out / "voices.tsv").write_text("".join(vrows), encoding="utf-8")


def _write_readme(out: Path, c: dict, seed: int, voices: list[Voice]) -> None:
    """Describe the corpus: what it is, how it was made, its licence; nothing time-dependent (byte-stable)."""
    settings = "\n".join(f"- `{k}`: {c[k]}" for k in sorted(DEFAULTS))
    (out / "README.md").write_text(f"""# Synthetic connected digits (asrflow `synth_digits`)

Generated, not recorded: {len(voices)} eSpeak NG voices (base voice + variant, random pitch and rate)
speak random digit strings ({', '.join(VOCAB)}), padded with silence and mixed with white or pink noise.
Made by `asrflow.data.synth` with seed {seed}; the same seed and settings give a byte-identical corpus.
The split is by voice: {sum(v.split == 'test' for v in voices)} test voices, the rest train.

Settings:
{settings}

Files:
- `wav/<voice_id>/<utt_id>.wav`: 16-bit mono PCM at {c['sample_rate']} Hz
- `transcripts.tsv`: utt_id, voice_id, words (uppercase), tab-separated, no header
- `voices.tsv`: voice_id, eSpeak voice, variant, pitch, rate (wpm), split, tab-separated, no header

Licence: the audio is derived from eSpeak NG's voice and phoneme data, which are GPL-3.0-or-later.
""", encoding="utf-8")


def synthesize_corpus(out_dir: Path, cfg: dict, seed: int, num_jobs: int = 1) -> None:
    """Synthesize the whole corpus into `out_dir` atomically, one fresh worker process per voice, `num_jobs` at once."""
    c = _config(cfg)
    rng = np.random.default_rng(seed)
    voices = draw_voices(c, rng)
    plans = {v.voice_id: [draw_utterance(f"{v.voice_id}-{i:04d}", c, rng) for i in range(c["utts_per_voice"])]
             for v in voices}
    log.info("synthesizing %d voices x %d utterances into %s with %d jobs", len(voices), c["utts_per_voice"],
             out_dir, num_jobs)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        tasks = [(v, plans[v.voice_id], tmp / "wav", c["sample_rate"]) for v in voices]
        pool = ThreadPoolExecutor(max(1, num_jobs))
        try:
            for _ in progress(pool.map(_run_worker, tasks), len(tasks), log, "voices"):
                pass
        finally:
            pool.shutdown(cancel_futures=True)  # waits for running workers, so none writes after cleanup
        _write_tables(tmp, voices, plans)
        _write_readme(tmp, c, seed, voices)


def corpus_split(out_dir: Path) -> dict[str, str]:
    """Map voice_id to "train" or "test", read from the corpus's voices.tsv."""
    lines = (Path(out_dir) / "voices.tsv").read_text(encoding="utf-8").splitlines()
    return {f[0]: f[5] for f in (line.split("\t") for line in lines if line)}
