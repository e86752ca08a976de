# Neural stage: hybrid TDNN-HMM trained on a SAT stage's alignments (cross-entropy on its pdfs), decoded on
# that stage's HCLG with the SAT decode's speaker transforms (Kaldi nnet3 on fMLLR features).
# Every network trains on NNET_TRAIN: `train`, or `train_sp` (with its speed-perturbed copies) when
# data.nnet_speed_perturb is set, which the SAT stage then aligns (align_fmllr) for the hybrid.
# Phone-output networks (`ctc`, and `mmi`: k2 LF-MMI) trained on the transcripts, decoded on HLG by
# kaldi-decoder (stage <net>) and by k2 (stage <net>_k2) from the same OpenFST graph.

for _stage in HYBRID_STAGES:
    _sat = config[_stage]["align_from"]

    rule:
        name:
            f"train_{_stage}"
        input:
            **part_files(NNET_TRAIN),
            gmm=f"{EXP}/{_sat}/final.mdl",
            ali=f"{EXP}/{_sat}_ali_{NNET_TRAIN}/ali.npz",
            trans=f"{EXP}/{_sat}_ali_{NNET_TRAIN}/trans.npz",
        output:
            model=f"{EXP}/{_stage}/final.pt",
            prior=f"{EXP}/{_stage}/prior.npy",
            log=f"{EXP}/{_stage}/train_log.json",
            curve=f"{EXP}/{_stage}/training_curve.png",
            onnx=f"{EXP}/{_stage}/final.onnx",
            torchscript=f"{EXP}/{_stage}/final.ts",
        params:
            cfg=arg(config[_stage]),
            seed=config["seed"],
            data=f"{R}/data/{NNET_TRAIN}",
            gmm=f"{EXP}/{_sat}",
            ali=f"{EXP}/{_sat}_ali_{NNET_TRAIN}",
            out=f"{EXP}/{_stage}",
        threads: THREADS
        log:
            f"{R}/logs/{_stage}_{{lex}}.log",
        benchmark:
            f"{R}/benchmarks/train_{_stage}_{{lex}}.tsv"
        shell:
            "{TRAIN_PYTHON} -m asrflow.nnet hybrid --data {params.data} --gmm-dir {params.gmm} --ali-dir {params.ali} "
            "--cfg {params.cfg} --seed {params.seed} --num-threads {THREADS} --out {params.out} 2> {log}"

    rule:
        name:
            f"decode_{_stage}"
        input:
            graph=f"{EXP}/{_sat}/graph_{{lm}}/HCLG.fst",
            gmm=f"{EXP}/{_sat}/final.mdl",
            nnet=f"{EXP}/{_stage}/final.pt",
            sat_decode=f"{EXP}/{_sat}/decode_{{lm}}_{{test_set}}/hyp.txt",  # its trans.npz: test speakers' fMLLR
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}/hyp.txt",
            ctm=f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}/ctm",
            utt_scores=f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}/utt_scores.tsv",
            info=f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}/decode_info.json",
            lattices=([f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}/lattices.npz"] if config["decode"]["lmwt_search"]
                      else []),
        params:
            cfg=arg({**DECODE_CFG, "acoustic_scale": config[_stage]["acoustic_scale"]}),
            info=lambda w: arg({"lm": w.lm, "lexicon": w.lex}),
            graph=f"{EXP}/{_sat}/graph_{{lm}}",
            nnet=f"{EXP}/{_stage}",
            trans=f"{EXP}/{_sat}/decode_{{lm}}_{{test_set}}/trans.npz",
            data=f"{R}/data/{{test_set}}",
            out=f"{EXP}/{_stage}/decode_{{lm}}_{{test_set}}",
            lang=LANG,
        wildcard_constraints:
            lm="|".join(FIRST_LMS),
        log:
            f"{R}/logs/decode_{_stage}_{{lex}}_{{lm}}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/decode_{_stage}_{{lex}}_{{lm}}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {params.lang} --model {input.gmm} --data {params.data} "
            "--nnet {params.nnet} --transforms {params.trans} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"


if SEQ_NETS:

    rule train_seqnet:
        input:
            **part_files(NNET_TRAIN),
            lang=LANG_FILES,
        output:
            model=f"{EXP}/{{net}}/final.pt",
            features=f"{EXP}/{{net}}/features.json",
            log=f"{EXP}/{{net}}/train_log.json",
            curve=f"{EXP}/{{net}}/training_curve.png",
            onnx=f"{EXP}/{{net}}/final.onnx",
            torchscript=f"{EXP}/{{net}}/final.ts",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            cfg=lambda w: arg({**SEQ_CFG[w.net], "objective": w.net}),
            seed=config["seed"],
            data=f"{R}/data/{NNET_TRAIN}",
            out=f"{EXP}/{{net}}",
            lang=LANG,
        threads: THREADS
        log:
            f"{R}/logs/{{net}}_{{lex}}.log",
        benchmark:
            f"{R}/benchmarks/train_{{net}}_{{lex}}.tsv"
        shell:
            "{TRAIN_PYTHON} -m asrflow.nnet ctc --data {params.data} --lang {params.lang} --cfg {params.cfg} --seed {params.seed} "
            "--num-threads {THREADS} --out {params.out} 2> {log}"

    rule graph_seqnet:
        input:
            lang=LANG_FILES,
            G=f"{R}/lm_{{lm}}/G_{{lex}}.fst",
        output:
            f"{EXP}/{{net}}/graph_{{lm}}/HLG.fst",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            out=f"{EXP}/{{net}}/graph_{{lm}}",
            lang=LANG,
        log:
            f"{R}/logs/graph_{{net}}_{{lex}}_{{lm}}.log",
        benchmark:
            f"{R}/benchmarks/graph_{{net}}_{{lex}}_{{lm}}.tsv"
        shell:
            "{PYTHON} -m asrflow.graph --ctc --lang {params.lang} --G {input.G} --out {params.out} 2> {log}"

    rule decode_seqnet:
        input:
            graph=f"{EXP}/{{net}}/graph_{{lm}}/HLG.fst",
            nnet=f"{EXP}/{{net}}/final.pt",
            data=part_files("{test_set}")["cuts"],
        output:
            hyp=f"{EXP}/{{net}}{{k2}}/decode_{{lm}}_{{test_set}}/hyp.txt",
            info=f"{EXP}/{{net}}{{k2}}/decode_{{lm}}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
            k2="|_k2",
            lm="|".join(FIRST_LMS),
        params:
            cfg=lambda w: arg({**DECODE_CFG, "acoustic_scale": SEQ_CFG[w.net]["acoustic_scale"]}),
            info=lambda w: arg({"lm": w.lm, "lexicon": w.lex}),
            decoder=lambda w: "k2" if w.k2 else "kaldi",
            graph=f"{EXP}/{{net}}/graph_{{lm}}",
            data=f"{R}/data/{{test_set}}",
            out=f"{EXP}/{{net}}{{k2}}/decode_{{lm}}_{{test_set}}",
            lang=LANG,
            nnet=f"{EXP}/{{net}}",
        log:
            f"{R}/logs/decode_{{net}}{{k2}}_{{lex}}_{{lm}}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/decode_{{net}}{{k2}}_{{lex}}_{{lm}}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --ctc {params.decoder} --graph {params.graph} --lang {params.lang} "
            "--nnet {params.nnet} --data {params.data} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"


if SEQ_NETS and RLM:

    rule rescore_seqnet:  # k2 lattices of the first-pass HLG, rescored whole with the larger LM's G
        input:
            graph=f"{EXP}/{{net}}/graph_{LM}/HLG.fst",
            nnet=f"{EXP}/{{net}}/final.pt",
            data=part_files("{test_set}")["cuts"],
            G=f"{R}/lm_{RLM}/G_{{lex}}.fst",
        output:
            hyp=f"{EXP}/{{net}}_k2/decode_{RLM}_{{test_set}}/hyp.txt",
            info=f"{EXP}/{{net}}_k2/decode_{RLM}_{{test_set}}/decode_info.json",
        wildcard_constraints:
            net="|".join(SEQ_NETS),
        params:
            cfg=lambda w: arg({**DECODE_CFG, "acoustic_scale": SEQ_CFG[w.net]["acoustic_scale"]}),
            info=lambda w: arg({"lm": RLM, "lexicon": w.lex, "first_pass_lm": LM}),
            graph=f"{EXP}/{{net}}/graph_{LM}",
            data=f"{R}/data/{{test_set}}",
            out=f"{EXP}/{{net}}_k2/decode_{RLM}_{{test_set}}",
            lang=LANG,
            nnet=f"{EXP}/{{net}}",
        log:
            f"{R}/logs/rescore_{{net}}_k2_{{lex}}_{RLM}_{{test_set}}.log",
        benchmark:
            f"{R}/benchmarks/rescore_{{net}}_k2_{{lex}}_{RLM}_{{test_set}}.tsv"
        shell:
            "{PYTHON} -m asrflow.decode --ctc k2 --graph {params.graph} --lang {params.lang} --rescore-G {input.G} "
            "--nnet {params.nnet} --data {params.data} --cfg {params.cfg} --info {params.info} "
            "--out {params.out} 2> {log}"
