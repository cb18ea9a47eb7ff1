# Sensitivity of the meta-analyses: each main analysis of three or more studies pooled again
# without each study in turn (leave-one-out), with the configured estimator.


rule leave_one_out:
    input:
        passed=passed_marker(),
        outcomes=clean("outcomes"),
        sheets=source_sheets("outcomes"),
    output:
        table="results/{review}/outcomes/leave_one_out.csv",
    params:
        meta_analysis=config["meta_analysis"],
        checksums=checksum_record("leave_one_out"),
    log:
        "logs/leave_one_out/{review}.log",
    run:
        adapter("leave_one_out", input, output, params, wildcards, log, rule)
