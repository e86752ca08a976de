# Graph stage: HCLG.fst for an acoustic model, a lexicon and an LM (Kaldi's mkgraph.sh).


rule graph:
    input:
        lang=LANG_FILES,
        G=f"{R}/lm_{LM}/G.fst",
        model=f"{R}/exp/{{stage}}/final.mdl",
    output:
        f"{R}/exp/{{stage}}/graph_{LEX}_{LM}/HCLG.fst",
    params:
        out=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}",
    wildcard_constraints:
        stage="|".join(GMM_STAGES),
    log:
        f"{R}/logs/graph_{{stage}}_{LEX}_{LM}.log",
    benchmark:
        f"{R}/benchmarks/graph_{{stage}}_{LEX}_{LM}.tsv"
    shell:
        "{PYTHON} -m asrflow.graph --lang {LANG} --G {input.G} --model {input.model} --out {params.out} 2> {log}"
