# asrflow: one DAG from audio to scored results. Rules are thin calls into the `asrflow` package;
# one rule file per stage (workflow/rules/<stage>.smk ↔ workflow/asrflow/<stage>/ ↔ tests/<stage>/).

configfile: "conf/config.yaml"


if not config.get("recipe"):  # no recipe file given: the default, offline recipe
    configfile: "conf/synth_digits.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/lang.smk"
include: "workflow/rules/lm.smk"
include: "workflow/rules/gmm.smk"
include: "workflow/rules/graph.smk"
include: "workflow/rules/decode.smk"
include: "workflow/rules/nnet.smk"
include: "workflow/rules/score.smk"


rule all:
    input:
        f"{R}/wer.tsv",
        f"{R}/RESULTS.md",
        # SAT alignments of the part the neural stages train on (align_fmllr.sh; train or train_sp)
        [f"{R}/exp_{lex}/{s}_ali_{NNET_TRAIN}/ali.npz" for lex in LEXICONS for s in SAT_STAGES if s in STAGES_OF[lex]],
