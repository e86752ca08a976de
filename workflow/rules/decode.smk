# Decode stage: 1-best Viterbi beam search of a test part on HCLG → hypotheses, CTM, real-time factor
# (SAT stages: speaker-independent first pass and fMLLR before the final pass, as decode_fmllr.sh);
# `lmrescore` rescores the kept lattices with the rescoring LM (steps/lmrescore.sh).


rule decode:
    input:
        graph=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}/HCLG.fst",
        model=f"{R}/exp/{{stage}}/final.mdl",
        alimdl=lambda w: [f"{R}/exp/{w.stage}/final.alimdl"] if w.stage in SAT_STAGES else [],
        data=part_files("{test_set}")["cuts"],
    output:
        hyp=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/hyp.txt",
        ctm=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/ctm",
        info=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/decode_info.json",
        lattices=[f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/lattices.npz"] if config["decode"]["lmwt_search"] else [],
    params:
        cfg=arg(config["decode"]),
        info=arg({"lm": LM, "lexicon": LEX}),
        graph=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}",
        data=f"{R}/data/{{test_set}}",
        out=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}",
        si_model=si_model_arg,
    wildcard_constraints:
        stage="|".join(GMM_STAGES),
    log:
        f"{R}/logs/decode_{{stage}}_{LM}_{{test_set}}.log",
    benchmark:
        f"{R}/benchmarks/decode_{{stage}}_{LM}_{{test_set}}.tsv"
    shell:
        "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {LANG} --model {input.model} --data {params.data} "
        "--cfg {params.cfg} --info {params.info} {params.si_model} --out {params.out} 2> {log}"


if LATTICE_RESCORED:

    rule lmrescore:
        input:
            lattices=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/lattices.npz",
            G=f"{R}/lm_{RLM}/G.fst",
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{R}/exp/{{stage}}/decode_{RLM}_{{test_set}}/hyp.txt",
            info=f"{R}/exp/{{stage}}/decode_{RLM}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            stage="|".join(LATTICE_RESCORED),
        params:
            info=arg({"lm": RLM, "lexicon": LEX, "first_pass_lm": LM}),
            lattices=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}",
            data=f"{R}/data/{{test_set}}",
            out=f"{R}/exp/{{stage}}/decode_{RLM}_{{test_set}}",
        log:
            f"{R}/logs/lmrescore_{{stage}}_{RLM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/lmrescore_{{stage}}_{RLM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --lattices {params.lattices} --rescore-G {input.G} --lang {LANG} "
            "--data {params.data} --info {params.info} --out {params.out} 2> {log}"
