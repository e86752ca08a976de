"""TDNN training on synthetic tasks: it learns, stops early, averages the best epochs, and reproduces given a seed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from asrflow.common import AsrflowError
from asrflow.nnet.train import (UNSEEN_LOG_PRIOR, TrainConfig, TrainResult, load_model, log_priors, pseudo_loglikes,
                                save_model, train_ctc, train_frame_classifier)

SMALL = TrainConfig(hidden_dim=64, contexts=((1, 1), (1, 1), (1, 2)), epochs=8, batch_frames=600, log_every=5)


def frame_task(num_utts: int, seed: int, classes: int = 6, dim: int = 12) -> list[tuple[np.ndarray, np.ndarray]]:
    """Utterances of class runs (4-11 frames each) whose frames are class-dependent Gaussians, offset from zero."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(100).normal(0.0, 1.0, (classes, dim))
    data = []
    for _ in range(num_utts):
        labels: list[int] = []
        length = int(rng.integers(60, 120))
        while len(labels) < length:
            labels += [int(rng.integers(classes))] * int(rng.integers(4, 12))
        y = np.array(labels)
        data.append(((means[y] + rng.normal(0.0, 1.0, (len(y), dim)) + 5.0).astype(np.float32), y))
    return data


def ctc_task(num_utts: int, seed: int, vocab: int = 6, dim: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Utterances spelling 2-5 random labels (repeats allowed) as 4-8-frame segments between silences."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(200).normal(0.0, 1.5, (vocab, dim))  # row 0: silence
    data = []
    for _ in range(num_utts):
        labels = rng.integers(1, vocab, int(rng.integers(2, 6)))
        frames = [0] * int(rng.integers(2, 6))
        for label in labels:
            frames += [int(label)] * int(rng.integers(4, 9)) + [0] * int(rng.integers(2, 5))
        x = means[np.array(frames)] + rng.normal(0.0, 0.5, (len(frames), dim))
        data.append((x.astype(np.float32), labels))
    return data


def greedy_ctc(log_probs: np.ndarray) -> list[int]:
    """Best path: argmax per frame, collapse repeats, drop blanks."""
    best = log_probs.argmax(-1)
    return [int(b) for i, b in enumerate(best) if b != 0 and (i == 0 or best[i - 1] != b)]


@pytest.fixture(scope="module")
def separable() -> TrainResult:
    """A small TDNN trained on the frame task."""
    return train_frame_classifier(frame_task(40, seed=1), frame_task(10, seed=2), 6, SMALL)


def test_frame_classifier_learns_a_separable_task(separable: TrainResult) -> None:
    history = separable.history
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert history[-1]["valid_acc"] > 0.9
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert history[-1]["valid_loss"] < 0.5 * history[0]["valid_loss"]
    assert history[0]["lr"] == SMALL.lr and history[-1]["lr"] == pytest.approx(SMALL.final_lr)
    assert all(h["seconds"] > 0 for h in history)
    assert not separable.model.training
    # Callers pass raw features: the model carries the normalisation of the (offset) training data.
    assert separable.model.feat_mean.mean().item() == pytest.approx(5.0, abs=0.5)


def test_early_stopping_when_valid_loss_stops_improving() -> None:
    # Random labels: the network can only memorise the training set, so validation loss soon rises.
    rng = np.random.default_rng(0)
    noise = [(rng.normal(size=(80, 12)).astype(np.float32), rng.integers(0, 6, 80)) for _ in range(50)]
    cfg = replace(SMALL, epochs=30, patience=2, lr=1e-2, final_lr=1e-2)
    result = train_frame_classifier(noise[:40], noise[40:], 6, cfg)
    losses = [h["valid_loss"] for h in result.history]
    best = int(np.argmin(losses))
    assert len(losses) < cfg.epochs
    assert len(losses) == best + 1 + cfg.patience
    assert result.averaged_epochs[0] <= best + 1 <= result.averaged_epochs[-1]


def test_model_averages_the_best_epochs_checkpoints(tmp_path: Path) -> None:
    # A constant, high learning rate makes the epochs scatter around the optimum, where averaging pays.
    cfg = replace(SMALL, epochs=10, batch_frames=200, lr=1e-2, final_lr=1e-2, patience=10, average_last=3)
    result = train_frame_classifier(frame_task(40, seed=1), frame_task(10, seed=2), 6, cfg, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"epoch-{e}.pt" for e in range(1, 11))
    lowest = sorted(sorted(range(1, 11), key=lambda e: result.history[e - 1]["valid_loss"])[:3])
    assert result.averaged_epochs == lowest
    checkpoints = [dict(load_model(tmp_path / f"epoch-{e}.pt").named_parameters()) for e in lowest]
    for name, value in result.model.named_parameters():
        expected = torch.stack([c[name] for c in checkpoints]).mean(0)
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)  # float32: a few ulps


def test_same_seed_gives_identical_parameters() -> None:
    train, valid = frame_task(20, seed=1), frame_task(5, seed=2)
    cfg = replace(SMALL, epochs=3)
    a = train_frame_classifier(train, valid, 6, cfg).model.state_dict()
    b = train_frame_classifier(train, valid, 6, cfg).model.state_dict()
    c = train_frame_classifier(train, valid, 6, replace(cfg, seed=1)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["output.weight"], c["output.weight"])


@pytest.mark.parametrize("subsampling", [1, 2])
def test_ctc_learns_label_sequences(subsampling: int) -> None:
    cfg = replace(SMALL, epochs=20, batch_frames=150, lr=3e-3, final_lr=3e-4)
    valid = ctc_task(20, seed=2)
    result = train_ctc(ctc_task(60, seed=1), valid, 6, cfg, subsampling=subsampling)
    history = result.history
    assert "train_acc" not in history[0]
    assert history[-1]["train_loss"] < 0.1 * history[0]["train_loss"]
    assert min(h["valid_loss"] for h in history) < 0.1 * history[0]["valid_loss"]
    assert result.model.subsampling == subsampling
    decoded = [greedy_ctc(pseudo_loglikes(result.model, x, None)) for x, _ in valid]
    assert len(pseudo_loglikes(result.model, valid[0][0], None)) == -(-len(valid[0][0]) // subsampling)
    assert sum(d == list(labels) for d, (_, labels) in zip(decoded, valid)) >= 0.8 * len(valid)


def test_ctc_on_linear_phone_graphs_matches_plain_ctc() -> None:
    """Triples with linear k2 acceptors (k2's graph CTC) train like torch's CTC on the same labels and seed."""
    import k2

    train, valid = ctc_task(30, seed=1), ctc_task(8, seed=2)
    as_graphs = [[(x, y, k2.linear_fsa(y.tolist())) for x, y in part] for part in (train, valid)]
    cfg = replace(SMALL, epochs=3, batch_frames=150, lr=3e-3, final_lr=3e-4)
    plain, graph = (train_ctc(t, v, 6, cfg).history for t, v in ((train, valid), as_graphs))
    for a, b in zip(plain, graph):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3)
        assert b["valid_loss"] == pytest.approx(a["valid_loss"], rel=1e-3)


def test_log_priors_are_a_distribution_that_switches_off_unseen_pdfs() -> None:
    prior = log_priors([np.array([0, 0, 1, 3]), np.array([3, 3, 0, 0])], 5)
    seen = [0, 1, 3]
    assert np.exp(prior[seen]).sum() == pytest.approx(1.0)
    assert prior[0] == pytest.approx(np.log(0.5)) and prior[3] > prior[1]
    assert prior[2] == prior[4] == UNSEEN_LOG_PRIOR  # no frames: Kaldi's nnet1 makes their likelihood ~0
    log_post = np.log(np.full((1, 5), 0.2, dtype=np.float32))
    assert (log_post - prior)[0, [2, 4]].max() < (log_post - prior)[0, seen].min() - 1000
    with pytest.raises(AsrflowError, match="outside"):
        log_priors([np.array([0, 7])], 5)


def test_pseudo_loglikes_subtract_the_prior(separable: TrainResult) -> None:
    feats = frame_task(1, seed=5)[0][0]
    prior = log_priors([y for _, y in frame_task(10, seed=3)], 6)
    with torch.no_grad():
        log_post = torch.log_softmax(separable.model(torch.from_numpy(feats)[None]), -1)[0].numpy()
    got = pseudo_loglikes(separable.model, feats, prior)
    assert got.dtype == np.float32 and got.shape == (len(feats), 6)
    np.testing.assert_array_equal(got, log_post - prior.astype(np.float32))
    np.testing.assert_array_equal(pseudo_loglikes(separable.model, feats, None), log_post)
    with pytest.raises(AsrflowError, match="prior"):
        pseudo_loglikes(separable.model, feats, prior[:3])


def test_checkpoint_round_trip(separable: TrainResult, tmp_path: Path) -> None:
    save_model(separable.model, SMALL, tmp_path / "final.pt")
    loaded = load_model(tmp_path / "final.pt")
    feats = frame_task(1, seed=5)[0][0]
    np.testing.assert_array_equal(pseudo_loglikes(loaded, feats, None), pseudo_loglikes(separable.model, feats, None))
    assert torch.load(tmp_path / "final.pt")["config"]["contexts"] == SMALL.contexts
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(AsrflowError, match="junk.pt"):
        load_model(tmp_path / "junk.pt")


def test_config_from_dict() -> None:
    cfg = TrainConfig.from_dict({"contexts": [[1, 1], [1, 3]], "epochs": 4})
    assert cfg.contexts == ((1, 1), (1, 3)) and cfg.epochs == 4
    with pytest.raises(AsrflowError, match="unknown keys"):
        TrainConfig.from_dict({"epoch": 4})
    with pytest.raises(AsrflowError, match="final_lr"):
        TrainConfig.from_dict({"lr": 1e-3, "final_lr": 1e-2})


def test_bad_training_data_is_a_user_error() -> None:
    x = np.zeros((10, 4), dtype=np.float32)
    with pytest.raises(AsrflowError, match="9 frame targets for 10 frames"):
        train_frame_classifier([(x, np.zeros(9, dtype=int))], [(x, np.zeros(10, dtype=int))], 3, SMALL)
    with pytest.raises(AsrflowError, match="pdf id 3"):
        train_frame_classifier([(x, np.full(10, 3))], [(x, np.zeros(10, dtype=int))], 3, SMALL)
    with pytest.raises(AsrflowError, match="NaN"):
        train_frame_classifier([(np.full_like(x, np.nan), np.zeros(10, dtype=int))], [(x, np.zeros(10, dtype=int))],
                               3, SMALL)
    with pytest.raises(AsrflowError, match="valid set is empty"):
        train_frame_classifier([(x, np.zeros(10, dtype=int))], [], 3, SMALL)
    with pytest.raises(AsrflowError, match="CTC label 0"):
        train_ctc([(x, np.array([1, 0]))], [(x, np.array([1]))], 3, SMALL)
    with pytest.raises(AsrflowError, match="long enough"):
        train_ctc([(x, np.array([1, 2]))], [(x[:3], np.array([1, 2]))], 3, SMALL, subsampling=3)
