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
# Training jobs compute with config `threads` whatever --cores grants: BLAS and torch split sums across
# threads, so another thread or worker count trains other bits (docs/experiments.md: threads).
THREADS = config["threads"]
TRAIN_PYTHON = (f"OPENBLAS_NUM_THREADS={THREADS} MKL_NUM_THREADS={THREADS} OMP_NUM_THREADS={THREADS} "
                f"{PYTHON}")
R = f"results/{RECIPE}"
STAGES = config["stages"]
TRI_STAGES = [s for s in STAGES if s.startswith("tri")]
HYBRID_STAGES = [s for s in STAGES if s.startswith("hybrid")]
# phone-output networks (CTC, LF-MMI), each decoded on HLG by kaldi-decoder (stage <net>) and by k2 (<net>_k2)
SEQ_NETS = [s for s in STAGES if s in ("ctc", "mmi")]
SEQ_CFG = {"ctc": config["ctc"], "mmi": {**config["ctc"], **config["mmi"]}}  # mmi inherits the ctc knobs
GMM_STAGES = [s for s in STAGES if s not in HYBRID_STAGES and s not in SEQ_NETS]
for _s in TRI_STAGES + HYBRID_STAGES:
    if _s not in config:
        raise WorkflowError(f"stage {_s!r} is listed in `stages` but has no config section {_s}: add one to conf/*.yaml")
    if config[_s].get("align_from", "mono") not in STAGES[: STAGES.index(_s)]:
        raise WorkflowError(f"stage {_s}: align_from {config[_s].get('align_from')!r} must be a stage listed before it")
SAT_STAGES = [s for s in TRI_STAGES if config[s].get("type") == "sat"]
# speaker-independent GMM stages decoded a second time with per-speaker fMLLR (decode_fmllr.sh), as <stage>_fmllr
FMLLR_OF = {f"{s}_fmllr": s for s in config["decode"].get("fmllr_stages") or []}
for _s in FMLLR_OF.values():
    if _s not in GMM_STAGES or _s in SAT_STAGES:
        raise WorkflowError(f"decode.fmllr_stages: {_s!r} must be a speaker-independent GMM stage listed in `stages` "
                            f"(SAT stages decode with fMLLR already); GMM stages here: {', '.join(GMM_STAGES)}")
# the decoders' options; fmllr_stages only picks which decodes exist, so changing it reruns no decode
DECODE_CFG = {k: v for k, v in config["decode"].items() if k != "fmllr_stages"}
for _s in HYBRID_STAGES:
    if config[_s]["align_from"] not in SAT_STAGES:
        raise WorkflowError(f"stage {_s}: align_from must name a SAT stage (type: sat), got {config[_s]['align_from']!r}")
SYNTH = CORPUS == "synth_digits"
CORPUS_DIR = config["corpus_dir"] or (f"{R}/corpus" if SYNTH else None)
# Kaldi's train_sp: the neural stages' training part, with speed-perturbed copies made from the prepared train part
NNET_SP = config["data"].get("nnet_speed_perturb") or []
if NNET_SP and config["data"].get("speed_perturb"):
    raise WorkflowError("data.speed_perturb and data.nnet_speed_perturb are both set: the copies would be perturbed "
                        "twice; keep one (speed_perturb: every stage; nnet_speed_perturb: the neural stages only)")
NNET_TRAIN = "train_sp" if NNET_SP else "train"
PART_CFG = {  # without nnet_speed_perturb: changing it must not redo the data preparation of the other parts
    **{k: v for k, v in config["data"].items() if k != "nnet_speed_perturb"},
    "test_speakers": config["test_speakers"],
    "dev_speakers": config["dev_speakers"],
    "num_dev_speakers": config["num_dev_speakers"],
    "download_dir": f"{R}/download",
}
PARTS = load_local_module(Path(LOCAL)).parts(Path(CORPUS_DIR) if CORPUS_DIR else None, PART_CFG)
TEST_SETS = [p for p in PARTS if p != "train"]


def named_variants(primary: dict, extra: dict, what: str) -> dict[str, dict]:
    """The primary section and each extra one (its fields over the primary's), keyed by name; names must differ."""
    if primary["name"] in extra:
        raise WorkflowError(f"{what}: {primary['name']!r} is the primary's name; give the extra one another name")
    return {primary["name"]: primary, **{name: {**primary, **fields, "name": name} for name, fields in extra.items()}}


def expand_lexicon(section: dict) -> dict:
    """A lexicon section with "{corpus_dir}" in its path expanded (e.g. AN4's own etc/an4.dic)."""
    return {**section, "path": (section.get("path") or "").format(corpus_dir=CORPUS_DIR) or None}


LEX = config["lexicon"]["name"]  # the primary lexicon: lang_<LEX>/, acoustic models in exp_<LEX>/
if "stages" in config["lexicon"]:
    raise WorkflowError("lexicon.stages is for extra lexicons (`lexicons`); the primary lexicon trains all `stages`")
# the lexicon sections (without `stages`: what the lang stage reads) and the stages trained per lexicon
LEXICONS = {n: expand_lexicon({k: v for k, v in s.items() if k != "stages"})
            for n, s in named_variants(config["lexicon"], config["lexicons"], "lexicons").items()}
STAGES_OF = {LEX: STAGES}
for _lex, _fields in config["lexicons"].items():
    STAGES_OF[_lex] = [s for s in STAGES if s in (_fields.get("stages") or STAGES)]
    for _s in _fields.get("stages") or []:
        _from = config.get(_s, {}).get("align_from", "mono" if _s in TRI_STAGES else None)
        if _s not in STAGES or (_from is not None and _from not in STAGES_OF[_lex]):
            raise WorkflowError(f"lexicons.{_lex}.stages: {_s!r} must be in `stages`, with the stage it aligns from")
LM = config["lm"]["name"]  # the primary first-pass LM; its lattices are the ones rescore_lm rescores
FIRST_LMS = named_variants(config["lm"], config["lms"], "lms")
RLM = (config.get("rescore_lm") or {}).get("name")  # the rescoring LM, or None
if RLM in FIRST_LMS:
    raise WorkflowError(f"rescore_lm is named {RLM!r}, as a first-pass LM: give it another name (it names lm_<name>/)")
LMS = {**FIRST_LMS, **({RLM: config["rescore_lm"]} if RLM else {})}
GRAMMAR_LMS = [n for n, c in LMS.items() if c["source"] == "grammar"]  # command grammars, compiled to G directly
if GRAMMAR_LMS and (LM in GRAMMAR_LMS or RLM in GRAMMAR_LMS):
    raise WorkflowError(f"lm and rescore_lm must be n-gram LMs (grammar decodes are scored against the lm's): "
                        f"put the command grammar {GRAMMAR_LMS[0]!r} under `lms`")
for _g in GRAMMAR_LMS:
    if not LMS[_g].get("grammar"):
        raise WorkflowError(f"lms.{_g} has source grammar but no `grammar:` file (e.g. lang/an4/commands.grammar)")
NGRAM_LMS = [n for n in LMS if n not in GRAMMAR_LMS]

def scored_stages(lex: str) -> list[str]:
    """The stages scored for one lexicon: its stages, plus <net>_k2 for each CTC/MMI network (k2 decoding) and
    <stage>_fmllr for each stage in decode.fmllr_stages."""
    return (STAGES_OF[lex] + [f"{s}_k2" for s in STAGES_OF[lex] if s in SEQ_NETS]
            + [f for f, s in FMLLR_OF.items() if s in STAGES_OF[lex]])


def lattice_rescored(lex: str) -> list[str]:
    """Stages whose decodes are rescored with rescore_lm: HCLG stages (lattices kept when the LM-weight sweep is on)
    and the k2 decodes."""
    if not RLM:
        return []
    hclg = [s for s in STAGES_OF[lex] if s not in SEQ_NETS] if config["decode"]["lmwt_search"] else []
    return hclg + [f"{s}_k2" for s in STAGES_OF[lex] if s in SEQ_NETS]


# every scored decode dir, as (lexicon, stage, LM name): all stages with every first-pass LM (command grammars:
# HCLG stages only), plus the rescored ones
DECODES = [(lex, s, lm) for lex in LEXICONS for lm in FIRST_LMS for s in scored_stages(lex)
           if lm not in GRAMMAR_LMS or s not in SEQ_NETS and not s.endswith("_k2")] + [
    (lex, s, RLM) for lex in LEXICONS for s in lattice_rescored(lex)]
GRAMMAR_EVALS = [(lex, s, lm) for lex, s, lm in DECODES if lm in GRAMMAR_LMS]
LATTICE_RESCORED = sorted({s for lex in LEXICONS for s in lattice_rescored(lex) if not s.endswith("_k2")})
SCORED_STAGES = sorted({s for lex in LEXICONS for s in scored_stages(lex)})
LANG = f"{R}/lang_{{lex}}"  # path patterns with the {lex} wildcard
EXP = f"{R}/exp_{{lex}}"
LANG_FILES = [f"{LANG}/{f}" for f in ("words.txt", "phones.txt", "L.fst", "L_disambig.fst", "topo")]

wildcard_constraints:
    part="|".join(PARTS + ([NNET_TRAIN] if NNET_SP else [])),
    test_set="|".join(TEST_SETS),
    stage="|".join(SCORED_STAGES),
    lm="|".join(LMS),
    lex="|".join(LEXICONS),


def arg(value) -> str:
    """A config value as one shell-quoted JSON argument (rules pass config sections this way)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def gmm_of(stage: str) -> str:
    """The GMM stage whose model and graph a decode uses: the stage itself, or X for an fMLLR decode X_fmllr."""
    return FMLLR_OF.get(stage, stage)


def si_model_arg(wildcards) -> str:
    """`--si-model …` for a two-pass fMLLR decode: a SAT stage's alignment model, or an fMLLR decode's own model."""
    if wildcards.stage in SAT_STAGES:
        return f"--si-model {R}/exp_{wildcards.lex}/{wildcards.stage}/final.alimdl"
    if wildcards.stage in FMLLR_OF:
        return f"--si-model {R}/exp_{wildcards.lex}/{gmm_of(wildcards.stage)}/final.mdl"
    return ""


def part_files(part: str) -> dict[str, str]:
    """The feature-stage outputs of one data part that later stages read."""
    d = f"{R}/data/{part}"
    return {"cuts": f"{d}/cuts.jsonl.gz", "cmvn": f"{d}/cmvn.npz", "feats": f"{d}/feats.lca"}
