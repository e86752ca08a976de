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
