# Config loading and validation, names and path helpers shared by the rule files (no stage logic here).
import json
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from asrflow.data.corpus import load_local_module

validate(config, "../../conf/schema.yaml")

RECIPE = config["recipe"]
CORPUS = config.get("corpus") or RECIPE
LOCAL = f"local/{CORPUS}.py"
if not Path(LOCAL).is_file():
    known = sorted(p.stem for p in Path("local").glob("*.py"))
    raise WorkflowError(f"unknown recipe/corpus {CORPUS!r}: there is no {LOCAL}; known: {', '.join(known)}")

PYTHON = shlex.quote(sys.executable)  # jobs run in the interpreter (venv) that runs Snakemake
R = f"results/{RECIPE}"
LEX = config["lexicon"]["name"]
LM = config["lm"]["name"]
RLM = (config.get("rescore_lm") or {}).get("name")  # the k2 decodes' rescoring LM, or None
LMS = {LM: config["lm"], **({RLM: config["rescore_lm"]} if RLM else {})}
if RLM == LM:
    raise WorkflowError(f"rescore_lm has the first-pass LM's name {LM!r}: give it another name (it names lm_<name>/)")
LANG = f"{R}/lang_{LEX}"
STAGES = config["stages"]
TRI_STAGES = [s for s in STAGES if s.startswith("tri")]
HYBRID_STAGES = [s for s in STAGES if s.startswith("hybrid")]
# phone-output networks (CTC, LF-MMI), each decoded on HLG by kaldi-decoder (stage <net>) and by k2 (<net>_k2)
SEQ_NETS = [s for s in STAGES if s in ("ctc", "mmi")]
SEQ_CFG = {"ctc": config["ctc"], "mmi": {**config["ctc"], **config["mmi"]}}  # mmi inherits the ctc knobs
GMM_STAGES = [s for s in STAGES if s not in HYBRID_STAGES and s not in SEQ_NETS]
SCORED_STAGES = STAGES + [f"{s}_k2" for s in SEQ_NETS]
# stages whose HCLG lattices (kept when the LM-weight sweep is on) are rescored with the rescoring LM
LATTICE_RESCORED = GMM_STAGES + HYBRID_STAGES if RLM and config["decode"]["lmwt_search"] else []
# every scored decode dir, as (stage, LM name): all stages with the first-pass LM, plus the rescored ones
DECODES = [(s, LM) for s in SCORED_STAGES] + [(s, RLM) for s in LATTICE_RESCORED + [f"{n}_k2" for n in SEQ_NETS] if RLM]
for _s in TRI_STAGES + HYBRID_STAGES:
    if _s not in config:
        raise WorkflowError(f"stage {_s!r} is listed in `stages` but has no config section {_s}: add one to conf/*.yaml")
    if config[_s].get("align_from", "mono") not in STAGES[: STAGES.index(_s)]:
        raise WorkflowError(f"stage {_s}: align_from {config[_s].get('align_from')!r} must be a stage listed before it")
SAT_STAGES = [s for s in TRI_STAGES if config[s].get("type") == "sat"]
for _s in HYBRID_STAGES:
    if config[_s]["align_from"] not in SAT_STAGES:
        raise WorkflowError(f"stage {_s}: align_from must name a SAT stage (type: sat), got {config[_s]['align_from']!r}")
SYNTH = CORPUS == "synth_digits"
CORPUS_DIR = config["corpus_dir"] or (f"{R}/corpus" if SYNTH else None)
PART_CFG = {
    **config["data"],
    "test_speakers": config["test_speakers"],
    "dev_speakers": config["dev_speakers"],
    "num_dev_speakers": config["num_dev_speakers"],
    "download_dir": f"{R}/download",
}
PARTS = load_local_module(Path(LOCAL)).parts(Path(CORPUS_DIR) if CORPUS_DIR else None, PART_CFG)
TEST_SETS = [p for p in PARTS if p != "train"]
# the lexicon section with "{corpus_dir}" in its path expanded (e.g. AN4's own etc/an4.dic)
LEXICON = {**config["lexicon"], "path": (config["lexicon"].get("path") or "").format(corpus_dir=CORPUS_DIR) or None}
LANG_FILES = [f"{LANG}/{f}" for f in ("words.txt", "phones.txt", "L.fst", "L_disambig.fst", "topo")]

wildcard_constraints:
    part="|".join(PARTS),
    test_set="|".join(TEST_SETS),
    stage="|".join(SCORED_STAGES),
    lm="|".join(LMS),


def arg(value) -> str:
    """A config value as one shell-quoted JSON argument (rules pass config sections this way)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def si_model_arg(wildcards) -> str:
    """`--si-model …` for a SAT stage's decode (two-pass fMLLR), else nothing."""
    return f"--si-model {R}/exp/{wildcards.stage}/final.alimdl" if wildcards.stage in SAT_STAGES else ""


def part_files(part: str) -> dict[str, str]:
    """The feature-stage outputs of one data part that later stages read."""
    d = f"{R}/data/{part}"
    return {"cuts": f"{d}/cuts.jsonl.gz", "cmvn": f"{d}/cmvn.npz", "feats": f"{d}/feats.lca"}
