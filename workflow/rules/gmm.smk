# GMM stage: monophone HMM-GMM training (Kaldi's train_mono.sh schedule) with its alignments.


rule mono:
    input:
        **part_files("train"),
        lang=LANG_FILES,
    output:
        model=f"{R}/exp/mono/final.mdl",
        ali=f"{R}/exp/mono/ali.npz",
        tree=f"{R}/exp/mono/tree",
        log=f"{R}/exp/mono/train_log.json",
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
