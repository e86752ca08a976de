# Score stage: WER/SER with ins/del/sub per decode, then the results table across stages and test sets.


rule score:
    input:
        hyp=f"{R}/exp/{{stage}}/decode_{{lm}}_{{test_set}}/hyp.txt",
        info=f"{R}/exp/{{stage}}/decode_{{lm}}_{{test_set}}/decode_info.json",
        ref=f"{R}/data/{{test_set}}/kaldi/text",
        utt2spk=f"{R}/data/{{test_set}}/kaldi/utt2spk",
    output:
        f"{R}/exp/{{stage}}/decode_{{lm}}_{{test_set}}/scores.json",
    params:
        out=f"{R}/exp/{{stage}}/decode_{{lm}}_{{test_set}}",
        # Kaldi's LM-weight sweep exists for first-pass lattice (HCLG) decodes, not for the CTC/MMI networks'
        # 1-best nor for rescored output
        sweep=lambda w: (f"--sweep-dir {R}/exp/{w.stage}/decode_{w.lm}_{w.test_set}/scoring"
                         if config["decode"]["lmwt_search"] and w.lm == LM
                         and w.stage.removesuffix("_k2") not in SEQ_NETS else ""),
    log:
        f"{R}/logs/score_{{stage}}_{{lm}}_{{test_set}}.log",
    shell:
        "{PYTHON} -m asrflow.score score --ref-text {input.ref} --hyp {input.hyp} --utt2spk {input.utt2spk} "
        "--stage {wildcards.stage} --test-set {wildcards.test_set} --decode-info {input.info} "
        "{params.sweep} --out {params.out} 2> {log}"


rule summary:
    input:
        scores=[f"{R}/exp/{stage}/decode_{lm}_{t}/scores.json" for stage, lm in DECODES for t in TEST_SETS],
        logs=expand(f"{R}/exp/{{stage}}/train_log.json", stage=STAGES),
        arpas=[f"{R}/lm_{lm}/lm.arpa" for lm in LMS],
        texts=[f"{R}/data/{t}/kaldi/text" for t in TEST_SETS],
    output:
        tsv=f"{R}/wer.tsv",
        md=f"{R}/RESULTS.md",
    params:
        published=arg(config["published"]),
        ppl=" ".join([f"--lm {lm}={R}/lm_{lm}/lm.arpa" for lm in LMS]
                     + [f"--test-text {t}={R}/data/{t}/kaldi/text" for t in TEST_SETS]),
    log:
        f"{R}/logs/summary.log",
    shell:
        "{PYTHON} -m asrflow.score summarize --recipe {RECIPE} --out-tsv {output.tsv} --out-md {output.md} "
        "--published {params.published} --train-logs {input.logs} {params.ppl} -- {input.scores} 2> {log}"
