# GMM stage: monophone flat start (train_mono.sh), then triphone stages on their predecessor's alignments
# (train_deltas.sh, train_lda_mllt.sh, train_sat.sh — chosen per stage by `type` in its config section).


def stage_outputs(stage: str) -> dict[str, str]:
    """The files a GMM stage writes under exp/<stage>/."""
    d = f"{R}/exp/{stage}"
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
    threads: 2
    log:
        f"{R}/logs/mono.log",
    benchmark:
        f"{R}/benchmarks/train_mono.tsv"
    shell:
        "{PYTHON} -m asrflow.gmm mono --data {params.data} --lang {LANG} --cfg {params.cfg} --seed {params.seed} "
        "--num-jobs {threads} --out {R}/exp/mono 2> {log}"


for _stage in TRI_STAGES:
    _cfg = config[_stage]
    _prev = _cfg["align_from"]

    rule:
        name:
            f"train_{_stage}"
        input:
            **part_files("train"),
            lang=LANG_FILES,
            prev_model=f"{R}/exp/{_prev}/final.mdl",
            prev_ali=f"{R}/exp/{_prev}/ali.npz",
        output:
            **stage_outputs(_stage),
            **({"alimdl": f"{R}/exp/{_stage}/final.alimdl", "trans": f"{R}/exp/{_stage}/trans.npz"}
               if _cfg["type"] == "sat" else {}),
        params:
            cfg=arg(_cfg),
            seed=config["seed"],
            data=f"{R}/data/train",
            prev=f"{R}/exp/{_prev}",
            out=f"{R}/exp/{_stage}",
        threads: 2
        log:
            f"{R}/logs/{_stage}.log",
        benchmark:
            f"{R}/benchmarks/train_{_stage}.tsv"
        shell:
            "{PYTHON} -m asrflow.gmm tri --data {params.data} --lang {LANG} --prev {params.prev} --cfg {params.cfg} "
            "--seed {params.seed} --num-jobs {threads} --out {params.out} 2> {log}"


rule align_fmllr:
    input:
        **part_files("{part}"),
        lang=LANG_FILES,
        model=f"{R}/exp/{{stage}}/final.mdl",
        alimdl=f"{R}/exp/{{stage}}/final.alimdl",
    output:
        ali=f"{R}/exp/{{stage}}_ali_{{part}}/ali.npz",
        trans=f"{R}/exp/{{stage}}_ali_{{part}}/trans.npz",
    wildcard_constraints:
        stage="|".join(SAT_STAGES) or "no_sat_stage",
    params:
        cfg=lambda w: arg(config[w.stage]),
        data=f"{R}/data/{{part}}",
        model_dir=f"{R}/exp/{{stage}}",
        out=f"{R}/exp/{{stage}}_ali_{{part}}",
    threads: 2
    log:
        f"{R}/logs/align_fmllr_{{stage}}_{{part}}.log",
    benchmark:
        f"{R}/benchmarks/align_fmllr_{{stage}}_{{part}}.tsv"
    shell:
        "{PYTHON} -m asrflow.gmm align_fmllr --data {params.data} --lang {LANG} --model-dir {params.model_dir} "
        "--cfg {params.cfg} --num-jobs {threads} --out {params.out} 2> {log}"
