# Neural stage: hybrid TDNN-HMM trained on a SAT stage's alignments (cross-entropy on its pdfs), decoded on
# that stage's HCLG with the SAT decode's speaker transforms (Kaldi nnet3 on fMLLR features).
# Phone-output networks (`ctc`, and `mmi`: k2 LF-MMI) trained on the transcripts, decoded on HLG by
# kaldi-decoder (stage <net>) and by k2 (stage <net>_k2) from the same OpenFST graph.

for _stage in HYBRID_STAGES:
    _sat = config[_stage]["align_from"]

    rule:
        name:
            f"train_{_stage}"
        input:
            **part_files("train"),
            gmm=f"{R}/exp/{_sat}/final.mdl",
            ali=f"{R}/exp/{_sat}_ali_train/ali.npz",
            trans=f"{R}/exp/{_sat}_ali_train/trans.npz",
        output:
            model=f"{R}/exp/{_stage}/final.pt",
            prior=f"{R}/exp/{_stage}/prior.npy",
            log=f"{R}/exp/{_stage}/train_log.json",
            curve=f"{R}/exp/{_stage}/training_curve.png",
            onnx=f"{R}/exp/{_stage}/final.onnx",
            torchscript=f"{R}/exp/{_stage}/final.ts",
        params:
            cfg=arg(config[_stage]),
            seed=config["seed"],
            data=f"{R}/data/train",
            gmm=f"{R}/exp/{_sat}",
            ali=f"{R}/exp/{_sat}_ali_train",
            out=f"{R}/exp/{_stage}",
        threads: 2
        log:
            f"{R}/logs/{_stage}.log",
        benchmark:
            f"{R}/benchmarks/train_{_stage}.tsv"
        shell:
            "{PYTHON} -m asrflow.nnet hybrid --data {params.data} --gmm-dir {params.gmm} --ali-dir {params.ali} "
            "--cfg {params.cfg} --seed {params.seed} --num-threads {threads} --out {params.out} 2> {log}"

    rule:
        name:
            f"decode_{_stage}"
        input:
            graph=f"{R}/exp/{_sat}/graph_{LEX}_{LM}/HCLG.fst",
            gmm=f"{R}/exp/{_sat}/final.mdl",
            nnet=f"{R}/exp/{_stage}/final.pt",
            sat_decode=f"{R}/exp/{_sat}/decode_{LM}_{{test_set}}/hyp.txt",  # its trans.npz: test speakers' fMLLR
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{R}/exp/{_stage}/decode_{LM}_{{test_set}}/hyp.txt",
            ctm=f"{R}/exp/{_stage}/decode_{LM}_{{test_set}}/ctm",
            info=f"{R}/exp/{_stage}/decode_{LM}_{{test_set}}/decode_info.json",
            lattices=([f"{R}/exp/{_stage}/decode_{LM}_{{test_set}}/lattices.npz"] if config["decode"]["lmwt_search"]
                      else []),
        params:
            cfg=arg({**config["decode"], "acoustic_scale": config[_stage]["acoustic_scale"]}),
            info=arg({"lm": LM, "lexicon": LEX}),
            graph=f"{R}/exp/{_sat}/graph_{LEX}_{LM}",
            nnet=f"{R}/exp/{_stage}",
            trans=f"{R}/exp/{_sat}/decode_{LM}_{{test_set}}/trans.npz",
            data=f"{R}/data/{{test_set}}",
            out=f"{R}/exp/{_stage}/decode_{LM}_{{test_set}}",
        log:
            f"{R}/logs/decode_{_stage}_{LM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/decode_{_stage}_{LM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {LANG} --model {input.gmm} --data {params.data} "
            "--nnet {params.nnet} --transforms {params.trans} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"


if SEQ_NETS:

    rule train_seqnet:
        input:
            **part_files("train"),
            lang=LANG_FILES,
        output:
            model=f"{R}/exp/{{net}}/final.pt",
            features=f"{R}/exp/{{net}}/features.json",
            log=f"{R}/exp/{{net}}/train_log.json",
            curve=f"{R}/exp/{{net}}/training_curve.png",
            onnx=f"{R}/exp/{{net}}/final.onnx",
            torchscript=f"{R}/exp/{{net}}/final.ts",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            cfg=lambda w: arg({**SEQ_CFG[w.net], "objective": w.net}),
            seed=config["seed"],
            data=f"{R}/data/train",
            out=f"{R}/exp/{{net}}",
        threads: 2
        log:
            f"{R}/logs/{{net}}.log",
        benchmark:
            f"{R}/benchmarks/train_{{net}}.tsv"
        shell:
            "{PYTHON} -m asrflow.nnet ctc --data {params.data} --lang {LANG} --cfg {params.cfg} --seed {params.seed} "
            "--num-threads {threads} --out {params.out} 2> {log}"

    rule graph_seqnet:
        input:
            lang=LANG_FILES,
            G=f"{R}/lm_{LM}/G.fst",
        output:
            f"{R}/exp/{{net}}/graph_{LEX}_{LM}/HLG.fst",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            out=f"{R}/exp/{{net}}/graph_{LEX}_{LM}",
        log:
            f"{R}/logs/graph_{{net}}_{LEX}_{LM}.log",
        benchmark:
            f"{R}/benchmarks/graph_{{net}}_{LEX}_{LM}.tsv"
        shell:
            "{PYTHON} -m asrflow.graph --ctc --lang {LANG} --G {input.G} --out {params.out} 2> {log}"

    rule decode_seqnet:
        input:
            graph=f"{R}/exp/{{net}}/graph_{LEX}_{LM}/HLG.fst",
            nnet=f"{R}/exp/{{net}}/final.pt",
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{R}/exp/{{net}}{{k2}}/decode_{LM}_{{test_set}}/hyp.txt",
            info=f"{R}/exp/{{net}}{{k2}}/decode_{LM}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
            k2="|_k2",
        params:
            cfg=lambda w: arg({**config["decode"], "acoustic_scale": SEQ_CFG[w.net]["acoustic_scale"]}),
            info=arg({"lm": LM, "lexicon": LEX}),
            decoder=lambda w: "k2" if w.k2 else "kaldi",
            graph=f"{R}/exp/{{net}}/graph_{LEX}_{LM}",
            data=f"{R}/data/{{test_set}}",
            out=f"{R}/exp/{{net}}{{k2}}/decode_{LM}_{{test_set}}",
        log:
            f"{R}/logs/decode_{{net}}{{k2}}_{LM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/decode_{{net}}{{k2}}_{LM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --ctc {params.decoder} --graph {params.graph} --lang {LANG} "
            "--nnet {R}/exp/{wildcards.net} --data {params.data} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"


if SEQ_NETS and RLM:

    rule rescore_seqnet:  # k2 lattices of the first-pass HLG, rescored whole with the larger LM's G
        input:
            graph=f"{R}/exp/{{net}}/graph_{LEX}_{LM}/HLG.fst",
            nnet=f"{R}/exp/{{net}}/final.pt",
            data=part_files("{test_set}")["cuts"],
            G=f"{R}/lm_{RLM}/G.fst",
        output:
            hyp=f"{R}/exp/{{net}}_k2/decode_{RLM}_{{test_set}}/hyp.txt",
            info=f"{R}/exp/{{net}}_k2/decode_{RLM}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            cfg=lambda w: arg({**config["decode"], "acoustic_scale": SEQ_CFG[w.net]["acoustic_scale"]}),
            info=arg({"lm": RLM, "lexicon": LEX, "first_pass_lm": LM}),
            graph=f"{R}/exp/{{net}}/graph_{LEX}_{LM}",
            data=f"{R}/data/{{test_set}}",
            out=f"{R}/exp/{{net}}_k2/decode_{RLM}_{{test_set}}",
        log:
            f"{R}/logs/rescore_{{net}}_k2_{RLM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/rescore_{{net}}_k2_{RLM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --ctc k2 --graph {params.graph} --lang {LANG} --rescore-G {input.G} "
            "--nnet {R}/exp/{wildcards.net} --data {params.data} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"
