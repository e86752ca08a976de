"""Decode a data part with an acoustic model on an HCLG graph: hypotheses, CTM and real-time factor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import kaldifst
import numpy as np

from asrflow.common import atomic_path, get_logger, load_arrays, progress
from asrflow.data.features import Utterance, load_utterances
from asrflow.decode.ctm import ctm_lines, read_prons, word_segments
from asrflow.decode.decoder import Decoder, DecodeOptions
from asrflow.decode.lattice import LatticeGenerator, RawLattice, lattices_to_arrays, write_sweep
from asrflow.gmm.adapt import adapt, compose_speakers, speaker_fmllr
from asrflow.gmm.model import AcousticModel
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.decode")
FRAME_SHIFT = 0.01


def fmllr_passes(hclg: kaldifst.StdVectorFst, model: AcousticModel, si_model: AcousticModel,
                 feats: dict[str, np.ndarray], utts: list[Utterance], lang: LangDir,
                 opts: DecodeOptions) -> dict[str, np.ndarray]:
    """Speaker transforms for two-pass SAT decoding (decode_fmllr.sh): speaker-independent first pass,
    fMLLR from its 1-best alignment, a second pass on the adapted features, fMLLR again on top."""
    speaker_of = {u.id: u.speaker for u in utts}
    transforms: dict[str, np.ndarray] = {}
    for k, pass_model in enumerate((si_model, model)):
        current = adapt(feats, speaker_of, transforms)
        decoder = Decoder(hclg, pass_model, opts)
        alignments = {u.id: decoder.decode(pass_model.tid_loglikes(current[u.id], opts.acoustic_scale)).alignment
                      for u in progress(utts, len(utts), log, f"fMLLR pass {k + 1}")}
        delta = speaker_fmllr(model, current, speaker_of, alignments, lang.silence, opts.fmllr_silence_weight,
                              opts.fmllr_min_count)
        transforms = compose_speakers(delta, transforms)
    return transforms


def nnet_scorer(nnet_dir: Path, model: AcousticModel, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """Scaled pseudo log-likelihoods of a hybrid network (log posterior − log prior) per transition id."""
    from asrflow.nnet.train import load_model, pseudo_loglikes  # torch only where a network is decoded

    net, prior = load_model(nnet_dir / "final.pt"), np.load(nnet_dir / "prior.npy")
    return lambda feats: (scale * pseudo_loglikes(net, feats, prior)[:, model.tid2pdf[1:]]).astype(np.float32)


def path_loglike(loglikes: np.ndarray, alignment: np.ndarray, acoustic_scale: float) -> float:
    """Unscaled acoustic log-likelihood per frame of a decoded path (transition id t scores column t - 1)."""
    if len(alignment) == 0:
        return float("-inf")
    return float(loglikes[np.arange(len(alignment)), alignment - 1].mean() / acoustic_scale)


def decode_part(graph_dir: Path, lang_dir: Path, model_path: Path, data_dir: Path, opts: DecodeOptions,
                out_dir: Path, extra_info: dict | None = None, si_model_path: Path | None = None,
                nnet_dir: Path | None = None, transforms_path: Path | None = None) -> dict:
    """Decode every utterance of `data_dir`; write hyp.txt, ctm, decode_info.json and utt_scores.tsv (the best
    path's acoustic log-likelihood per frame, for grammar rejection) atomically; return the info.

    With an LM-weight sweep configured, the raw lattices are kept too (lattices.npz, for `rescore_part`).

    With `si_model_path` (a SAT system) the features are first adapted per speaker by `fmllr_passes`;
    the transforms are written to trans.npz and their cost counts in the real-time factor. With
    `nnet_dir` a hybrid network scores the frames instead of the GMMs (`model` still gives the
    transition model), on features adapted by the speaker transforms in `transforms_path`.
    """
    lang = LangDir(lang_dir)
    model = AcousticModel.load(model_path)
    hclg = kaldifst.StdVectorFst.read(str(graph_dir / "HCLG.fst"))
    decoder = Decoder(hclg, model, opts)
    prons, silence = read_prons(lang), set(lang.silence)
    feats = model.load_features(data_dir)
    utts = load_utterances(data_dir)
    transforms: dict[str, np.ndarray] = {}
    adapt_s = 0.0
    if si_model_path is not None:
        start = time.perf_counter()
        transforms = fmllr_passes(hclg, model, AcousticModel.load(si_model_path), feats, utts, lang, opts)
        feats = adapt(feats, {u.id: u.speaker for u in utts}, transforms)
        adapt_s = time.perf_counter() - start
    if transforms_path is not None:
        feats = adapt(feats, {u.id: u.speaker for u in utts}, load_arrays(transforms_path))
    score_frames = (nnet_scorer(nnet_dir, model, opts.acoustic_scale) if nnet_dir is not None
                    else lambda f: model.tid_loglikes(f, opts.acoustic_scale))
    grid = [(lmwt, wip) for lmwt in opts.lmwt_search for wip in opts.wip_search]
    # acoustic costs in the lattice carry the decoding scale: LM weight L means acoustic × 1/(scale·L)
    weights = [(1.0 / (opts.acoustic_scale * lmwt), wip) for lmwt, wip in grid]
    # the simple lattice decoder prunes harder than the faster one: start at beam + lattice beam
    # (LatticeGenerator widens it further where the 1-best is lost)
    lattices = LatticeGenerator(hclg, opts.beam + opts.lattice_beam, opts.lattice_beam) if grid else None
    swept: dict[tuple[float, float], list[str]] = {g: [] for g in grid}
    kept: dict[str, RawLattice] = {}  # for LM rescoring (asrflow.decode.rescore)
    hyps, ctm, failed, audio_s, decode_s = [], [], [], 0.0, 0.0
    utt_scores = ["utt\tframes\tam_loglike_per_frame"]
    for u in progress(utts, len(utts), log, f"decoding {data_dir.name}"):
        start = time.perf_counter()
        loglikes = score_frames(feats[u.id])
        hyp = decoder.decode(loglikes)
        decode_s += time.perf_counter() - start
        if lattices is not None:
            lat, best = lattices.lattice(loglikes, weights, hyp.words if hyp.ok else None)
            if lat is not None:
                kept[u.id] = lat
            for g, (word_ids, _) in zip(grid, best):
                swept[g].append(" ".join([u.id, *(lang.id2word[w] for w in word_ids)]))
        audio_s += u.duration
        words = [lang.id2word[w] for w in hyp.words]
        if not hyp.ok:
            failed.append(u.id)
        hyps.append(" ".join([u.id, *words]))
        utt_scores.append(f"{u.id}\t{len(loglikes)}\t{path_loglike(loglikes, hyp.alignment, opts.acoustic_scale):.4f}")
        ctm += ctm_lines(u.id, word_segments(model.phone_segments(hyp.alignment), words, prons, silence), FRAME_SHIFT)
    decode_s += adapt_s
    info = {"rtf": decode_s / max(audio_s, 1e-9), "decode_seconds": decode_s, "audio_seconds": audio_s,
            "utterances": len(utts), "not_final": failed, **(extra_info or {})}
    log.info("decoded %d utterances, RTF %.4f, %d without a final state", len(utts), info["rtf"], len(failed))
    if lattices is not None and lattices.widened:
        log.info("%d lattice(s) searched again at a wider beam to keep the 1-best", lattices.widened)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        (tmp / "hyp.txt").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        (tmp / "ctm").write_text("".join(c + "\n" for c in ctm), encoding="utf-8")
        (tmp / "decode_info.json").write_text(json.dumps(info, indent=1) + "\n")
        (tmp / "utt_scores.tsv").write_text("".join(x + "\n" for x in utt_scores), encoding="utf-8")
        if transforms:
            with open(tmp / "trans.npz", "wb") as f:
                np.savez_compressed(f, **transforms)
        if grid:
            with open(tmp / "lattices.npz", "wb") as f:
                np.savez_compressed(f, **lattices_to_arrays(kept))
            write_sweep(tmp / "scoring", swept)
    return info
