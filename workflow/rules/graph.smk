# Graph stage: HCLG.fst for an acoustic model, a lexicon and an LM (Kaldi's mkgraph.sh).


rule graph:
    input:
        lang=LANG_FILES,
        G=f"{R}/lm_{{lm}}/G_{{lex}}.fst",
        model=f"{EXP}/{{stage}}/final.mdl",
    output:
        f"{EXP}/{{stage}}/graph_{{lm}}/HCLG.fst",
    params:
        out=f"{EXP}/{{stage}}/graph_{{lm}}",
        lang=LANG,
    wildcard_constraints:
        stage="|".join(GMM_STAGES),
    log:
        f"{R}/logs/graph_{{stage}}_{{lex}}_{{lm}}.log",
    benchmark:
        f"{R}/benchmarks/graph_{{stage}}_{{lex}}_{{lm}}.tsv"
    shell:
        "{PYTHON} -m asrflow.graph --lang {params.lang} --G {input.G} --model {input.model} --out {params.out} 2> {log}"
