# Decode stage: 1-best Viterbi beam search of a test part on HCLG → hypotheses, CTM, real-time factor
# (SAT stages, and <stage>_fmllr for a speaker-independent stage in decode.fmllr_stages: a first pass and
# per-speaker fMLLR before the final pass, as decode_fmllr.sh), for every lexicon × first-pass LM;
# `lmrescore` rescores the primary LM's kept lattices with rescore_lm (steps/lmrescore.sh).

DECODE_DIR = f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}"


rule decode:
    input:
        graph=lambda w: f"{R}/exp_{w.lex}/{gmm_of(w.stage)}/graph_{w.lm}/HCLG.fst",
        model=lambda w: f"{R}/exp_{w.lex}/{gmm_of(w.stage)}/final.mdl",
        alimdl=lambda w: [f"{R}/exp_{w.lex}/{w.stage}/final.alimdl"] if w.stage in SAT_STAGES else [],
        lang=LANG_FILES,
        data=part_files("{test_set}")["cuts"],
    output:
        hyp=f"{DECODE_DIR}/hyp.txt",
        ctm=f"{DECODE_DIR}/ctm",
        utt_scores=f"{DECODE_DIR}/utt_scores.tsv",
        info=f"{DECODE_DIR}/decode_info.json",
        lattices=[f"{DECODE_DIR}/lattices.npz"] if config["decode"]["lmwt_search"] else [],
    params:
        cfg=arg(DECODE_CFG),
        info=lambda w: arg({"lm": w.lm, "lexicon": w.lex}),
        graph=lambda w: f"{R}/exp_{w.lex}/{gmm_of(w.stage)}/graph_{w.lm}",
        lang=LANG,
        data=f"{R}/data/{{test_set}}",
        out=DECODE_DIR,
        si_model=si_model_arg,
    wildcard_constraints:
        stage="|".join(GMM_STAGES + list(FMLLR_OF)),
        lm="|".join(FIRST_LMS),
    log:
        f"{R}/logs/decode_{{stage}}_{{lex}}_{{lm}}_{{test_set}}.log",
    benchmark:
        f"{R}/benchmarks/decode_{{stage}}_{{lex}}_{{lm}}_{{test_set}}.tsv"
    shell:
        "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {params.lang} --model {input.model} "
        "--data {params.data} --cfg {params.cfg} --info {params.info} {params.si_model} --out {params.out} 2> {log}"


if LATTICE_RESCORED:

    rule lmrescore:
        input:
            lattices=f"{EXP}/{{stage}}/decode_{LM}_{{test_set}}/lattices.npz",
            G=f"{R}/lm_{RLM}/G_{{lex}}.fst",
            lang=LANG_FILES,
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{EXP}/{{stage}}/decode_{RLM}_{{test_set}}/hyp.txt",
            info=f"{EXP}/{{stage}}/decode_{RLM}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            stage="|".join(LATTICE_RESCORED),
        params:
            info=lambda w: arg({"lm": RLM, "lexicon": w.lex, "first_pass_lm": LM}),
            lattices=f"{EXP}/{{stage}}/decode_{LM}_{{test_set}}",
            lang=LANG,
            data=f"{R}/data/{{test_set}}",
            out=f"{EXP}/{{stage}}/decode_{RLM}_{{test_set}}",
        log:
            f"{R}/logs/lmrescore_{{stage}}_{{lex}}_{RLM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/lmrescore_{{stage}}_{{lex}}_{RLM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --lattices {params.lattices} --rescore-G {input.G} --lang {params.lang} "
            "--data {params.data} --info {params.info} --out {params.out} 2> {log}"
