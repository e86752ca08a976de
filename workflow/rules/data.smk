# Data stage: corpus (synthesized or given) → Lhotse manifests + Kaldi data dirs → MFCC + CMVN stats.


rule synth_corpus:
    output:
        directory(f"{R}/corpus"),
    params:
        cfg=arg({**config.get("synth", {}), "sample_rate": config["data"]["sample_rate"]}),
        seed=config["seed"],
    threads: 2
    log:
        f"{R}/logs/synth_corpus.log",
    benchmark:
        f"{R}/benchmarks/synth_corpus.tsv"
    shell:
        "{PYTHON} -m asrflow.data synth --out {output} --cfg {params.cfg} --seed {params.seed} "
        "--num-jobs {threads} 2> {log}"


rule data_prepare:
    input:
        local=LOCAL,
        corpus=[CORPUS_DIR] if SYNTH and not config["corpus_dir"] else [],
    output:
        [f"{R}/data/{p}/{f}" for p in PARTS
         for f in ("recordings.jsonl.gz", "supervisions.jsonl.gz", "kaldi/text", "kaldi/utt2spk")],
    params:
        cfg=arg(PART_CFG),
        corpus_dir=CORPUS_DIR or "none",
        out=f"{R}/data",
    log:
        f"{R}/logs/data_prepare.log",
    shell:
        "{PYTHON} -m asrflow.data prepare --local {input.local} --corpus-dir {params.corpus_dir} "
        "--cfg {params.cfg} --out {params.out} 2> {log}"


if NNET_SP:

    rule speed_perturb_nnet:  # train_sp for the neural stages (Kaldi's perturb_data_dir_speed_3way.sh)
        input:
            f"{R}/data/train/recordings.jsonl.gz",
            f"{R}/data/train/supervisions.jsonl.gz",
        output:
            [f"{R}/data/{NNET_TRAIN}/{f}" for f in ("recordings.jsonl.gz", "supervisions.jsonl.gz", "kaldi/text",
                                                    "kaldi/utt2spk")],
        params:
            factors=" ".join(str(f) for f in NNET_SP),
            src=f"{R}/data/train",
            out=f"{R}/data/{NNET_TRAIN}",
        log:
            f"{R}/logs/speed_perturb_nnet.log",
        shell:
            "{PYTHON} -m asrflow.data speed_perturb --src {params.src} --factors {params.factors} --out {params.out} "
            "2> {log}"


rule features:
    input:
        f"{R}/data/{{part}}/recordings.jsonl.gz",
        f"{R}/data/{{part}}/supervisions.jsonl.gz",
    output:
        **part_files("{part}"),
    params:
        cfg=arg({**config["mfcc"], "seed": config["seed"]}),
        part_dir=f"{R}/data/{{part}}",
    threads: 2
    log:
        f"{R}/logs/features_{{part}}.log",
    benchmark:
        f"{R}/benchmarks/features_{{part}}.tsv"
    shell:
        "{PYTHON} -m asrflow.data features --part-dir {params.part_dir} --cfg {params.cfg} "
        "--num-jobs {threads} 2> {log}"
