# GMM stage: monophone flat start (train_mono.sh), then triphone stages on their predecessor's alignments
# (train_deltas.sh, train_lda_mllt.sh, train_sat.sh — chosen per stage by `type` in its config section).


def stage_outputs(stage: str) -> dict[str, str]:
    """The files a GMM stage writes under exp_<lexicon>/<stage>/."""
    d = f"{EXP}/{stage}"
    return {"model": f"{d}/final.mdl", "ali": f"{d}/ali.npz", "tree": f"{d}/tree", "log": f"{d}/train_log.json",
            "durations": f"{d}/phone_durations.tsv"}


rule mono:
    input:
        **part_files("train"),
        lang=LANG_FILES,
    output:
        **stage_outputs("mono"),
    params:
        cfg=arg(config["mono"]),
        seed=config["seed"],
        data=f"{R}/data/train",
        lang=LANG,
        out=f"{EXP}/mono",
    threads: THREADS
    log:
        f"{R}/logs/mono_{{lex}}.log",
    benchmark:
        f"{R}/benchmarks/train_mono_{{lex}}.tsv"
    shell:
        "{TRAIN_PYTHON} -m asrflow.gmm mono --data {params.data} --lang {params.lang} --cfg {params.cfg} "
        "--seed {params.seed} --num-jobs {THREADS} --out {params.out} 2> {log}"


for _stage in TRI_STAGES:
    _cfg = config[_stage]
    _prev = _cfg["align_from"]

    rule:
        name:
            f"train_{_stage}"
        input:
            **part_files("train"),
            lang=LANG_FILES,
            prev_model=f"{EXP}/{_prev}/final.mdl",
            prev_ali=f"{EXP}/{_prev}/ali.npz",
        output:
            **stage_outputs(_stage),
            **({"alimdl": f"{EXP}/{_stage}/final.alimdl", "trans": f"{EXP}/{_stage}/trans.npz"}
               if _cfg["type"] == "sat" else {}),
        params:
            cfg=arg(_cfg),
            seed=config["seed"],
            data=f"{R}/data/train",
            prev=f"{EXP}/{_prev}",
            out=f"{EXP}/{_stage}",
            lang=LANG,
        threads: THREADS
        log:
            f"{R}/logs/{_stage}_{{lex}}.log",
        benchmark:
            f"{R}/benchmarks/train_{_stage}_{{lex}}.tsv"
        shell:
            "{TRAIN_PYTHON} -m asrflow.gmm tri --data {params.data} --lang {params.lang} --prev {params.prev} --cfg {params.cfg} "
            "--seed {params.seed} --num-jobs {THREADS} --out {params.out} 2> {log}"


rule align_fmllr:
    input:
        **part_files("{part}"),
        lang=LANG_FILES,
        model=f"{EXP}/{{stage}}/final.mdl",
        alimdl=f"{EXP}/{{stage}}/final.alimdl",
    output:
        ali=f"{EXP}/{{stage}}_ali_{{part}}/ali.npz",
        trans=f"{EXP}/{{stage}}_ali_{{part}}/trans.npz",
    wildcard_constraints:
        stage="|".join(SAT_STAGES) or "no_sat_stage",
    params:
        cfg=lambda w: arg(config[w.stage]),
        data=f"{R}/data/{{part}}",
        model_dir=f"{EXP}/{{stage}}",
        out=f"{EXP}/{{stage}}_ali_{{part}}",
        lang=LANG,
    threads: THREADS
    log:
        f"{R}/logs/align_fmllr_{{stage}}_{{lex}}_{{part}}.log",
    benchmark:
        f"{R}/benchmarks/align_fmllr_{{stage}}_{{lex}}_{{part}}.tsv"
    shell:
        "{TRAIN_PYTHON} -m asrflow.gmm align_fmllr --data {params.data} --lang {params.lang} --model-dir {params.model_dir} "
        "--cfg {params.cfg} --num-jobs {THREADS} --out {params.out} 2> {log}"
