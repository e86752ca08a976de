"""Phonetic decision trees as Kaldi builds them: tree statistics, automatic questions, greedy splitting.

acc-tree-stats → `accumulate_tree_stats`, cluster-phones → `cluster_phones`, build-tree → `build_tree`.
The bindings cannot construct a context-dependent tree, so `build_tree` writes Kaldi's binary
ContextDependency format (`tree_bytes`) and loads that into a `khg.ContextDependency`.
Event keys follow Kaldi: 0 … N-1 are the positions of the phone window, -1 the pdf class.
"""

from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass, field
from typing import Sequence

import kaldi_hmm_gmm as khg
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from asrflow.common import AsrflowError, get_logger
from asrflow.gmm.diag_gmm import LOG_2PI
from asrflow.gmm.model import AcousticModel

log = get_logger("asrflow.gmm.tree")

PDF_CLASS_KEY = -1  # Kaldi's kPdfClass
CHUNK_FRAMES = 200_000  # frames pooled per utterance batch before they are folded into the running statistics
KMEANS_TRIES = 10  # random starts of each 2-way split in cluster_phones (Kaldi's TreeCluster uses 10)


def _group_sum(groups: np.ndarray, num_groups: int, rows: np.ndarray) -> np.ndarray:
    """Sum `rows` by group id (0 … num_groups-1) with one sort and a reduceat."""
    out = np.zeros((num_groups, rows.shape[1]))
    if len(groups):
        order = np.argsort(groups, kind="stable")
        ordered = groups[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        out[ordered[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def _objf(stats: np.ndarray, var_floor: float) -> np.ndarray:
    """Kaldi's GaussClusterable::Objf over the last axis of [count, sum(D), sumsq(D)] stats.

    The data's log-likelihood under its own ML diagonal Gaussian with variances floored at `var_floor`; 0 for no data.
    """
    dim = (stats.shape[-1] - 1) // 2
    count = stats[..., 0]
    safe = np.where(count > 0, count, 1.0)[..., None]
    mean = stats[..., 1:1 + dim] / safe
    var = stats[..., 1 + dim:] / safe - mean ** 2
    floored = np.maximum(var, var_floor)
    per_frame = -0.5 * ((var / floored).sum(-1) + np.log(floored).sum(-1) + dim * LOG_2PI)
    return np.where(count > 0, count * per_frame, 0.0)


@dataclass
class TreeStats:
    """Kaldi's tree statistics (acc-tree-stats): count, sum and sum of squares of the frames of each distinct event."""

    windows: np.ndarray  # (E, N) phone ids around the frame's phone, 0 = utterance boundary
    pdf_class: np.ndarray  # (E,)
    count: np.ndarray  # (E,)
    sums: np.ndarray  # (E, D)
    sumsq: np.ndarray  # (E, D)

    @classmethod
    def from_events(cls, windows: np.ndarray, pdf_class: np.ndarray, count: np.ndarray, sums: np.ndarray,
                    sumsq: np.ndarray) -> "TreeStats":
        """Statistics with the rows of repeated events summed into one (rows sorted by event)."""
        keys = np.column_stack([windows, pdf_class]).astype(np.int64)
        events, inverse = np.unique(keys, axis=0, return_inverse=True)
        dim = sums.shape[1]
        pooled = _group_sum(inverse.reshape(-1), len(events), np.column_stack([count, sums, sumsq]))
        return cls(events[:, :-1], events[:, -1], pooled[:, 0], pooled[:, 1:1 + dim], pooled[:, 1 + dim:])

    @property
    def rows(self) -> np.ndarray:
        """[count, sums, sumsq] per event: the form the clustering code adds up."""
        return np.column_stack([self.count, self.sums, self.sumsq])

    def __iadd__(self, other: "TreeStats") -> "TreeStats":
        """Merge another job's statistics (Kaldi's sum-tree-stats)."""
        merged = TreeStats.from_events(np.concatenate([self.windows, other.windows]),
                                       np.concatenate([self.pdf_class, other.pdf_class]),
                                       np.concatenate([self.count, other.count]),
                                       np.concatenate([self.sums, other.sums]),
                                       np.concatenate([self.sumsq, other.sumsq]))
        self.windows, self.pdf_class, self.count = merged.windows, merged.pdf_class, merged.count
        self.sums, self.sumsq = merged.sums, merged.sumsq
        return self


def _tid_pdf_class(model: AcousticModel) -> np.ndarray:
    """Pdf class of every transition id (index 0 unused), as Kaldi's TransitionIdToPdfClass."""
    topo = model.tm.topo
    tuples = [t.__getstate__() for t in model.tm.tuples]
    entries = {p: topo.topology_for_phone(p) for p in {t[0] for t in tuples}}
    forward = np.array([entries[p][h].forward_pdf_class for p, h, _, _ in tuples], dtype=np.int64)
    self_loop = np.array([entries[p][h].self_loop_pdf_class for p, h, _, _ in tuples], dtype=np.int64)
    state = np.asarray(model.tm.id2state, dtype=np.int64)[1:] - 1
    return np.r_[0, np.where(model.tid_is_self_loop[1:], self_loop[state], forward[state])]


def _fold(total: TreeStats | None, chunk: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> TreeStats:
    """Add a batch of (per-frame windows, pdf classes, features) to the running tree statistics."""
    windows, classes, feats = (np.concatenate(part) for part in zip(*chunk))
    part = TreeStats.from_events(windows, classes, np.ones(len(feats)), feats, feats ** 2)
    if total is None:
        return part
    total += part
    return total


def accumulate_tree_stats(model: AcousticModel, alignments: dict[str, np.ndarray], feats: dict[str, np.ndarray],
                          context_width: int = 3, central_position: int = 1,
                          ci_phones: Sequence[int] = ()) -> TreeStats:
    """Kaldi's acc-tree-stats: sum each frame's features by its event (phone window, pdf class of its transition).

    The window holds the phones around the frame's phone instance (0 past the utterance ends). `ci_phones`
    (acc-tree-stats --ci-phones, e.g. silence) get their context blanked to 0 so the tree cannot ask about it.
    Utterances whose alignment does not split into whole phones are skipped with a warning, as Kaldi does.
    """
    if not 0 <= central_position < context_width:
        raise AsrflowError(f"central position {central_position} is outside a context window of {context_width}")
    pdf_class_of = _tid_pdf_class(model)
    context = np.arange(context_width) != central_position
    pad_left = np.zeros(central_position, dtype=np.int64)
    pad_right = np.zeros(context_width - 1 - central_position, dtype=np.int64)
    total, chunk, frames = None, [], 0
    for utt in sorted(alignments):
        ali = np.asarray(alignments[utt], dtype=np.int64)
        if utt not in feats or len(feats[utt]) != len(ali):
            have = len(feats[utt]) if utt in feats else "no"
            raise AsrflowError(f"utterance {utt}: alignment has {len(ali)} frames but there are {have} feature "
                               "frames; realign with the current features")
        segs = np.array(model.phone_segments(ali), dtype=np.int64).reshape(-1, 3)
        if not len(segs) or segs[-1, 2] != len(ali):
            log.warning("utterance %s: alignment does not end on a phone boundary; not using it", utt)
            continue
        windows = sliding_window_view(np.r_[pad_left, segs[:, 0], pad_right], context_width).copy()
        windows[np.ix_(np.isin(segs[:, 0], ci_phones), context)] = 0
        x = np.asarray(feats[utt], dtype=np.float64)
        chunk.append((np.repeat(windows, segs[:, 2] - segs[:, 1], axis=0), pdf_class_of[ali], x))
        frames += len(ali)
        if frames >= CHUNK_FRAMES:
            total, chunk, frames = _fold(total, chunk), [], 0
    if chunk:
        total = _fold(total, chunk)
    if total is None:
        raise AsrflowError("no usable alignment to accumulate tree statistics from")
    return total


def _two_way_split(points: np.ndarray, var_floor: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Best split of `points` (pooled stats rows) in two, Kaldi's ClusterKMeans with 2 clusters.

    From several random balanced starts, move the single point whose move raises the objective most until
    none does; returns the side of each point and the gain over keeping them together.
    """
    whole = float(_objf(points.sum(0), var_floor))
    tol = 1e-9 * max(1.0, abs(whole))
    best_side, best_objf = None, -np.inf
    for _ in range(KMEANS_TRIES):
        side = rng.permutation(len(points)) % 2 == 1
        while True:
            a, b = points[side].sum(0), points[~side].sum(0)
            src, dst = np.where(side[:, None], a, b), np.where(side[:, None], b, a)
            gain = (_objf(src - points, var_floor) + _objf(dst + points, var_floor)
                    - _objf(src, var_floor) - _objf(dst, var_floor))
            gain[np.where(side, side.sum(), (~side).sum()) == 1] = -np.inf  # a point alone must stay
            move = int(np.argmax(gain))
            if gain[move] <= tol:
                break
            side[move] = ~side[move]
        objf = float(_objf(a, var_floor) + _objf(b, var_floor))
        if objf > best_objf:
            best_side, best_objf = side, objf
    return best_side, best_objf - whole


def cluster_phones(stats: TreeStats, sets: list[list[int]], central_position: int, pdf_class: int | None = 1,
                   var_floor: float = 0.01) -> list[list[int]]:
    """Kaldi's cluster-phones: questions from a top-down binary clustering of the phone sets' statistics.

    Each set pools the events whose central phone is in it, of pdf class `pdf_class` only (Kaldi's
    --pdf-class-list default 1, the middle state; None pools every class). Sets with data are split in two
    again and again (2-means on the Gaussian objective, Kaldi's TreeCluster) until single sets or no gain.
    The phones of every tree node are a question, as are each input set and all phones together.
    """
    phones = [p for s in sets for p in s]
    if len(set(phones)) != len(phones) or not all(sets):
        raise AsrflowError("phone sets for cluster_phones must be non-empty and disjoint (check phones/sets.int)")
    keep = np.ones(len(stats.count), bool) if pdf_class is None else stats.pdf_class == pdf_class
    centre = stats.windows[keep, central_position]
    set_of = np.full(max(max(phones), int(centre.max(initial=0))) + 1, -1)
    for i, s in enumerate(sets):
        set_of[s] = i
    mine = set_of[centre] >= 0
    pooled = _group_sum(set_of[centre][mine], len(sets), stats.rows[keep][mine])
    rng = np.random.default_rng(0)
    seen = np.flatnonzero(pooled[:, 0] > 0)
    nodes, todo = [], [seen]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if len(node) > 1:
            side, gain = _two_way_split(pooled[node], var_floor, rng)
            if gain > 1e-9 * max(1.0, float(pooled[node, 0].sum())):
                todo += [node[side], node[~side]]
    questions = {tuple(sorted(p for i in node for p in sets[i])) for node in nodes}
    questions |= {tuple(sorted(s)) for s in sets} | {tuple(sorted(phones))}
    questions.discard(())
    return [list(q) for q in sorted(questions)]


def pdf_class_questions(num_pdf_classes: int) -> list[list[int]]:
    """Kaldi's compile-questions questions about the pdf class: every prefix {0 … k}, k < num_pdf_classes - 1."""
    return [list(range(k + 1)) for k in range(num_pdf_classes - 1)]


@dataclass(frozen=True)
class ConstantMap:
    """Kaldi's ConstantEventMap: a leaf answering one pdf id."""

    pdf: int


@dataclass(frozen=True)
class SplitMap:
    """Kaldi's SplitEventMap: `yes` if the event's value for `key` is in `yes_set`, else `no`."""

    key: int
    yes_set: tuple[int, ...]
    yes: "EventMap"
    no: "EventMap"


@dataclass(frozen=True)
class TableMap:
    """Kaldi's TableEventMap: the child indexed by the event's value for `key` (None: no answer)."""

    key: int
    table: tuple["EventMap | None", ...]


EventMap = ConstantMap | SplitMap | TableMap


def _int32(value: int) -> bytes:
    """Kaldi's binary WriteBasicType for int32: a size byte then little-endian bytes."""
    return b"\x04" + struct.pack("<i", value)


def _event_map_bytes(node: EventMap | None) -> bytes:
    """Kaldi's binary EventMap::Write of a (sub)tree."""
    if node is None:
        return b"NULL "
    if isinstance(node, ConstantMap):
        return b"CE " + _int32(node.pdf)
    if isinstance(node, SplitMap):
        values = sorted(set(node.yes_set))  # ConstIntegerSet must be read sorted
        return (b"SE " + _int32(node.key) + b"\x04" + struct.pack(f"<i{len(values)}i", len(values), *values)
                + b"{ " + _event_map_bytes(node.yes) + _event_map_bytes(node.no) + b"} ")
    return (b"TE " + _int32(node.key) + b"\xfc" + struct.pack("<I", len(node.table)) + b"( "
            + b"".join(_event_map_bytes(child) for child in node.table) + b") ")


def tree_bytes(to_pdf: EventMap, context_width: int, central_position: int) -> bytes:
    """Kaldi's binary ContextDependency serialisation (what `build-tree` writes, without the \\0B header)."""
    return (b"ContextDependency " + _int32(context_width) + _int32(central_position) + b"ToPdf "
            + _event_map_bytes(to_pdf) + b"EndContextDependency ")


def load_tree(raw: bytes) -> khg.ContextDependency:
    """A ContextDependency from its Kaldi binary serialisation (through the bindings' pickle state)."""
    tree = khg.ContextDependency.__new__(khg.ContextDependency)
    tree.__setstate__((np.frombuffer(raw, dtype=np.int8).tolist(),))
    return tree


@dataclass
class LeafStats:
    """Pooled statistics of every pdf (tree leaf), what gmm-init-model starts from, and the build's log."""

    count: np.ndarray  # (L,)
    sums: np.ndarray  # (L, D)
    sumsq: np.ndarray  # (L, D)
    splits: list[tuple[int, tuple[int, ...], float]] = field(default_factory=list)  # (key, yes set, gain) in order
    cluster_change: float = 0.0  # objective change from merging leaves after splitting (<= 0)

    def gaussians(self, var_floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Each leaf's mean and floored variance; leaves without data get the pooled Gaussian, as gmm-init-model."""
        count, sums, sumsq = self.count.copy(), self.sums.copy(), self.sumsq.copy()
        empty = count <= 0
        if empty.any():
            log.warning("%d tree leaves have no data; giving them the pooled Gaussian", int(empty.sum()))
            count[empty], sums[empty], sumsq[empty] = count.sum(), sums.sum(0), sumsq.sum(0)
        means = sums / count[:, None]
        return means, np.maximum(sumsq / count[:, None] - means ** 2, var_floor)


@dataclass
class _Choice:
    """A leaf's best question: its gain and the events each answer keeps."""

    gain: float
    key: int
    yes_set: tuple[int, ...]
    yes: np.ndarray
    no: np.ndarray


class _Splitter:
    """Finds a leaf's best question over every key (Kaldi's DecisionTreeSplitter::FindBestSplit)."""

    def __init__(self, stats: TreeStats, rows: np.ndarray, questions: list[tuple[int, ...]], max_classes: int,
                 var_floor: float, min_count: float) -> None:
        self.rows, self.var_floor, self.min_count = rows, var_floor, min_count
        width = max(int(stats.windows.max(initial=0)), max((max(q) for q in questions), default=0)) + 1
        phone_q = np.zeros((len(questions), width), bool)
        for i, q in enumerate(questions):
            phone_q[i, list(q)] = True
        class_sets = [tuple(q) for q in pdf_class_questions(max_classes)]
        class_q = np.arange(max_classes)[None, :] <= np.arange(len(class_sets))[:, None]
        self.keys = [(PDF_CLASS_KEY, stats.pdf_class, class_q, class_sets)]
        self.keys += [(k, stats.windows[:, k], phone_q, questions) for k in range(stats.windows.shape[1])]

    def best(self, events: np.ndarray) -> _Choice | None:
        """The question with the largest likelihood gain whose answers each keep >= min_count frames, if any gains."""
        rows = self.rows[events]
        total = rows.sum(0)
        whole = _objf(total, self.var_floor)
        best = None
        for key, values, matrix, sets in self.keys:
            distinct, inverse = np.unique(values[events], return_inverse=True)
            if len(distinct) < 2 or not len(sets):
                continue
            member = matrix[:, distinct]
            yes = member.astype(np.float64) @ _group_sum(inverse, len(distinct), rows)
            no = total - yes
            ok = member.any(1) & ~member.all(1) & (yes[:, 0] >= self.min_count) & (no[:, 0] >= self.min_count)
            gain = np.where(ok, _objf(yes, self.var_floor) + _objf(no, self.var_floor) - whole, -np.inf)
            q = int(np.argmax(gain))
            if gain[q] > (best.gain if best else 0.0):
                answer = member[q, inverse]
                best = _Choice(float(gain[q]), key, sets[q], events[answer], events[~answer])
        return best


def _merge_leaves(rows: np.ndarray, thresh: float, var_floor: float) -> tuple[np.ndarray, float]:
    """Kaldi's ClusterBottomUp: merge the cheapest pair of clusters while the objective loss is below `thresh`.

    Returns each row's cluster (named by its first row) and the total objective change.
    """
    k = len(rows)
    rows, label, alive, index = rows.copy(), np.arange(k), np.ones(k, bool), np.arange(k)
    own = _objf(rows, var_floor)
    cost = np.full((k, k), np.inf)  # cost[i, j], i < j: objective loss of merging clusters i and j
    for i in range(k - 1):
        cost[i, i + 1:] = own[i] + own[i + 1:] - _objf(rows[i] + rows[i + 1:], var_floor)
    change = 0.0
    while True:
        i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if not cost[i, j] < thresh:
            break
        change -= cost[i, j]
        rows[i] += rows[j]
        own[i] = _objf(rows[i], var_floor)
        alive[j], label[label == j] = False, i
        cost[j, :] = cost[:, j] = np.inf
        new = np.where(alive & (index != i), own[i] + own - _objf(rows[i] + rows, var_floor), np.inf)
        cost[i, index > i], cost[index < i, i] = new[index > i], new[index < i]
    return label, change


@dataclass
class _Grown:
    """A grown tree: the events of every node (roots first), each node's root, the splits made."""

    members: list[np.ndarray]
    root: list[int]
    children: dict[int, tuple[int, tuple[int, ...], int, int]]  # node -> (key, yes set, yes node, no node)
    splits: list[tuple[int, tuple[int, ...], float]]  # (key, yes set, gain) in the order made


def _grow(splitter: _Splitter, roots: list[np.ndarray], num_leaves: int, thresh: float) -> _Grown:
    """Kaldi's SplitDecisionTree: split the leaf of largest gain while under `num_leaves` and the gain > `thresh`."""
    grown = _Grown(list(roots), list(range(len(roots))), {}, [])
    best = [splitter.best(m) for m in roots]
    heap = [(-c.gain, n) for n, c in enumerate(best) if c]
    heapq.heapify(heap)
    while heap and len(grown.members) - len(grown.children) < num_leaves and -heap[0][0] > thresh:
        node = heapq.heappop(heap)[1]
        c = best[node]
        grown.children[node] = (c.key, c.yes_set, len(grown.members), len(grown.members) + 1)
        for part in (c.yes, c.no):
            grown.root.append(grown.root[node])
            grown.members.append(part)
            best.append(splitter.best(part))
            if best[-1]:
                heapq.heappush(heap, (-best[-1].gain, len(grown.members) - 1))
        grown.splits.append((c.key, c.yes_set, c.gain))
    return grown


def build_tree(stats: TreeStats, roots: list[list[int]], questions: list[list[int]], num_pdf_classes: dict[int, int],
               num_leaves: int, thresh: float = 0.0, cluster_thresh: float = -1.0, context_width: int = 3,
               central_position: int = 1, var_floor: float = 0.01,
               min_count: float = 0.0) -> tuple[khg.ContextDependency, LeafStats]:
    """Kaldi's build-tree with every root "shared split": grow greedily, then merge leaves within each root.

    The stub is a table on the central phone with one leaf per root (a phone set, all its pdf classes).
    The leaf/question of largest likelihood gain (GaussClusterable objective) is split while there are fewer
    than `num_leaves` leaves and the gain exceeds `thresh`; questions are `questions` on every window position
    (the central one too: a root may hold several phones) and `pdf_class_questions` on the pdf class.
    Optionally each answer must keep >= `min_count` frames (the default 0 is Kaldi's build-tree). Then leaves of
    one root are merged while the loss is below `cluster_thresh` (negative: the smallest split gain; 0: no merging).
    Values never seen in training take the no-branch, so every phone of every root maps in any context.
    """
    if stats.windows.shape[1] != context_width or not 0 <= central_position < context_width:
        raise AsrflowError(f"tree statistics have windows of {stats.windows.shape[1]} phones, not "
                           f"{context_width} with the centre at {central_position}: recompute them")
    phones = [p for r in roots for p in r]
    if len(set(phones)) != len(phones) or not all(roots):
        raise AsrflowError("tree roots must be non-empty, disjoint phone sets (check phones/roots.int)")
    missing = sorted(set(phones) - set(num_pdf_classes))
    if missing:
        raise AsrflowError(f"phones {missing} of the tree roots are missing from the topology")
    centre = stats.windows[:, central_position]
    root_of = np.full(max(max(phones), int(centre.max(initial=0))) + 1, -1)
    classes_of = np.zeros(len(root_of), dtype=np.int64)
    for r, root in enumerate(roots):
        root_of[root] = r
        classes_of[root] = [num_pdf_classes[p] for p in root]
    if (root_of[centre] < 0).any():
        raise AsrflowError(f"phones {sorted(set(centre[root_of[centre] < 0].tolist()))} have tree statistics "
                           "but are in no root (check phones/roots.int)")
    if (stats.pdf_class >= classes_of[centre]).any():
        raise AsrflowError("tree statistics have pdf classes the topology lacks: recompute them with this lang")
    unseen = sorted(set(phones) - set(centre.tolist()))
    if unseen:
        log.warning("no tree statistics for phones %s: they share their root's pdfs or get the pooled Gaussian",
                    unseen)
    rows = stats.rows
    qsets = sorted({tuple(sorted(set(q))) for q in questions if q})
    splitter = _Splitter(stats, rows, qsets, int(classes_of.max()), var_floor, min_count)
    grown = _grow(splitter, [np.flatnonzero(root_of[centre] == r) for r in range(len(roots))], num_leaves, thresh)
    members, children, splits = grown.members, grown.children, grown.splits

    leaves = np.array([n for n in range(len(members)) if n not in children])
    leaf_rows = np.array([rows[members[n]].sum(0) for n in leaves])
    leaf_root = np.array(grown.root)[leaves]
    if cluster_thresh < 0:
        cluster_thresh = min((g for _, _, g in splits), default=0.0)
    same = leaves.copy()  # the leaf whose pdf each leaf shares after merging
    change = 0.0
    if cluster_thresh > 0:
        for r in range(len(roots)):
            mine = np.flatnonzero(leaf_root == r)
            label, delta = _merge_leaves(leaf_rows[mine], cluster_thresh, var_floor)
            same[mine], change = leaves[mine][label], change + delta

    pdf_of: dict[int, int] = {}
    same_of = dict(zip(leaves.tolist(), same.tolist()))

    def subtree(n: int) -> EventMap:
        """The grown tree below node n, leaves numbered in depth-first order."""
        if n in children:
            key, yes_set, yes, no = children[n]
            return SplitMap(key, yes_set, subtree(yes), subtree(no))
        return ConstantMap(pdf_of.setdefault(same_of[n], len(pdf_of)))

    tops = [subtree(r) for r in range(len(roots))]
    table: list[EventMap | None] = [None] * (max(phones) + 1)
    for r, root in enumerate(roots):
        for p in root:
            table[p] = tops[r]
    tree = load_tree(tree_bytes(TableMap(central_position, tuple(table)), context_width, central_position))

    event_pdf = np.zeros(len(rows), dtype=np.int64)
    for n in leaves:
        event_pdf[members[n]] = pdf_of[same_of[n]]
    pooled = _group_sum(event_pdf, len(pdf_of), rows)
    dim = stats.sums.shape[1]
    frames = max(float(stats.count.sum()), 1.0)
    log.info("tree: %d splits, %d leaves -> %d pdfs after merging; likelihood gain %.4f per frame over %.0f frames, "
             "merging %.4f per frame", len(splits), len(leaves), len(pdf_of),
             sum(g for _, _, g in splits) / frames, frames, change / frames)
    return tree, LeafStats(pooled[:, 0], pooled[:, 1:1 + dim], pooled[:, 1 + dim:], splits, change)
