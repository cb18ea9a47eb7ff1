# Config look-ups and input functions shared by the rules.
import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

from evsynth.codebook import crosstab_fields as codebook_crosstab_fields
from evsynth.intake import input_files as intake_input_files
from evsynth.integrity import CHECKSUMS_DIR, Job, remove_unvouched
from evsynth.narrative import narrative_files as package_narrative_files
from evsynth.narrative import report_formats as package_report_formats
from evsynth.runner import RuleFailed, run_adapter

REVIEWS = sorted(config["reviews"])
REPORTS_DIR = Path(workflow.basedir).parent / "reports"

wildcard_constraints:
    review="[a-z0-9-]+",


def review_config(review):
    return config["reviews"][review]


# --- Running a step ----------------------------------------------------------------------------
# Each rule runs its adapter, scripts/<name>.py, inside this process (a `run:` block, in a
# thread with --force-use-threads, set by workflow/profiles/default and by `make run`): one
# interpreter imports the package once, instead of one per job (see evsynth.runner).
SCRIPTS = Path(workflow.basedir).parent / "scripts"


def adapter(name, input, output, params, wildcards, log, rule):
    job = SimpleNamespace(
        input=input, output=output, params=params, wildcards=wildcards, log=log, rule=rule
    )
    try:
        run_adapter(SCRIPTS / f"{name}.py", job)
    except RuleFailed:
        # The reason is on the terminal already; this only tells Snakemake the job failed,
        # raised afresh so that its trace names this file rather than the package's insides.
        raise RuleFailed(f"evsynth stopped '{rule}' (the reason is above)") from None


# --- Rerun honesty -----------------------------------------------------------------------------
# Snakemake goes by file dates; a rerun here goes by content. Every job records the SHA-256 of
# what it read and wrote (results/<review>/checksums/, see evsynth.integrity), and before each
# run, while the DAG is built, the results that those records no longer vouch for are removed:
# stale ones (an input's content changed, whatever its date: a sheet restored from a backup or
# copied with `cp -p` keeps its old date), damaged ones (a result's bytes changed after its job
# wrote it) and unrecorded ones. `all` asks for every result, so Snakemake rebuilds exactly the
# removed files and what depends on them. Removing rather than forcing: a workflow cannot force
# a file from inside, a `params` hash is compared only against .snakemake/metadata (absent in a
# copied or cleaned project) and a removed result is visibly gone, never passed off as current.
#
# Sheets, codebook and narrative are therefore `ancient` inputs: their date alone (a `touch`,
# a checkout) reruns nothing. The steps after validation read the clean tables and the gate's
# marker as `ancient` too, so rerunning `validate`, which rewrites every clean table, does not
# by itself rerun them; each also names the sheets its clean tables come from (`sheets=`), so
# its record goes stale exactly when one of those sheets changes. Editing outcomes.csv reruns
# validate, the gate, outcomes and the report, not the tallies, agreement or PRISMA. This rests
# on validation cleaning each sheet on its own once it passes: the cross-sheet checks (study
# IDs, PRISMA's included count) only add errors, and errors stop the review at the gate.


def sheet_paths(review, names=None):
    """The files the named sheets (None: all) are read from, as evsynth.intake finds them; a
    missing location gives none (validation reports it, rather than Snakemake refusing)."""
    location = Path(review_config(review)["sheets"])
    if not location.exists():
        return []
    return [str(p) for p in intake_input_files(location, names)]


def sheet_files(wildcards):
    """All the review's input files (validation reads them all)."""
    return ancient(sheet_paths(wildcards.review))


def source_sheets(*names):
    """Input function: the files of the sheets a step's clean tables come from."""
    return lambda wildcards: ancient(sheet_paths(wildcards.review, names))


def codebook_file(wildcards):
    path = Path(review_config(wildcards.review)["codebook"])
    return ancient([str(path)]) if path.exists() else []


def clean(table):
    """A typed clean table (Parquet, evsynth.handoff), as the steps after validation read it
    (see above: ancient, checked by content)."""
    return ancient(str(getattr(rules.validate.output, f"{table}_typed")))


def passed_marker():
    return ancient(str(rules.validation_gate.output.passed))


def read_by_content():
    """The results that later steps read as `ancient` (above), for every review."""
    patterns = [getattr(rules.validate.output, f"{sheet}_typed")
                for sheet in ("studies", "codes", "outcomes", "screening", "appraisal", "findings")]
    patterns.append(rules.validation_gate.output.passed)
    patterns.append(rules.outcomes.output.study_weights)
    patterns.append(rules.outcomes.output.meta_analysis)
    return frozenset(Path(str(p).format(review=r)) for p in patterns for r in REVIEWS)


def record_stem(review, rule_name, wildcards):
    extra = "".join(f"-{value}" for key, value in sorted(wildcards.items()) if key != "review")
    return f"results/{review}/{CHECKSUMS_DIR}/{rule_name}{extra}"


def checksum_record(rule_name):
    """Params: where a job keeps the record of what it read and wrote."""
    return lambda wildcards: record_stem(wildcards.review, rule_name, dict(wildcards.items()))


def recorded_rules():
    return [rules.validate, rules.validation_gate, rules.check_narrative, rules.tally,
            rules.crosstab, rules.agreement, rules.outcomes, rules.small_study, rules.prisma,
            rules.leave_one_out,
            rules.subgroups, rules.appraisal,
            rules.findings, rules.render, rules.provenance, rules.datapackage]


def review_jobs(review):
    """(Job, rule name) for every job of a review: its declared outputs and its record."""
    values = {"review": [review], "field": crosstab_fields(review),
              "format": report_formats(review)}
    jobs = []
    for owner in recorded_rules():
        names = sorted(owner.rule.wildcard_names)
        for combo in itertools.product(*(values[n] for n in names)):
            wildcards = dict(zip(names, combo))
            outputs = tuple(Path(str(p).format(**wildcards)) for p in owner.output)
            stem = Path(record_stem(review, owner.rule.name, wildcards))
            jobs.append((Job(stem, outputs), owner.rule.name))
    return jobs


_RECORDS_CHECKED = []


def check_recorded_outputs():
    """Remove the results their records do not vouch for, once per run (see above).

    Only when jobs are to be run or listed (not for --report, --lint, --summary or --touch),
    and not while a lock is held: another run's files may be half written. A dry run removes
    them too, so that it lists the jobs the run will do; what it removes is worth nothing.
    """
    if _RECORDS_CHECKED:
        return
    _RECORDS_CHECKED.append(True)
    if workflow.executor_plugin is None or workflow.touch or not workflow.is_main_process:
        return
    locks = Path(".snakemake/locks")
    if locks.is_dir() and any(locks.iterdir()):
        return
    jobs = [job for review in REVIEWS for job in review_jobs(review)]
    for notice in remove_unvouched(jobs, keep=read_by_content()):
        print(notice, file=sys.stderr)


def crosstab_fields(review):
    """Study fields the themes are crossed with (read within bounds by the package)."""
    return codebook_crosstab_fields(review_config(review)["codebook"])


def narrative_files(wildcards):
    """The narrative's section files, as evsynth.narrative finds them (none without a folder)."""
    folder = review_config(wildcards.review)["narrative"]
    if not folder:
        return []
    return ancient([str(p) for p in package_narrative_files(Path(folder)).values()])


def references_files(wildcards):
    """The review's references file and CSL style, where set and present (a missing one is
    the references check's finding, not Snakemake's refusal)."""
    settings = review_config(wildcards.review)
    paths = [settings.get("references"), settings.get("csl")]
    return ancient([str(p) for p in paths if p and Path(p).is_file()])


def report_sources(wildcards):
    """The Quarto project files a report is built from (a template edit re-renders). Named from
    the working directory when the project runs in its own folder (as `make run` does), so the
    render's checksum record is the same wherever the folder is; else by their full path."""
    here = Path.cwd()
    return sorted(
        str(p.relative_to(here) if p.is_relative_to(here) else p) for p in REPORTS_DIR.rglob("*")
        if p.is_file() and "narrative" not in p.relative_to(REPORTS_DIR).parts
        and not any(part.startswith(".") for part in p.relative_to(REPORTS_DIR).parts)
    )


def report_formats(review):
    """The formats the review renders: `report` names one or a list (each renders apart)."""
    return package_report_formats(review_config(review)["report"])


def review_outputs(review):
    """Every file a review's run writes, as the rules declare them."""
    return sorted({str(p) for job, _ in review_jobs(review) for p in job.outputs})


def all_outputs(wildcards=None):
    """What `all` asks for: every output, not only the reports, so that a deleted or damaged
    intermediate result (a clean table, a figure) is rebuilt even when the report after it
    looks current (Snakemake rebuilds a missing file only when something asks for it)."""
    check_recorded_outputs()
    return [f for review in REVIEWS for f in review_outputs(review)]


def tally_results(wildcards):
    return {
        "themes": f"results/{wildcards.review}/tallies/themes.csv",
        "cooccurrence": f"results/{wildcards.review}/tallies/cooccurrence.csv",
        "characteristics": f"results/{wildcards.review}/tallies/characteristics.csv",
        "agreement": f"results/{wildcards.review}/tallies/agreement.csv",
        "crosstabs": [
            f"results/{wildcards.review}/tallies/themes_by_{field}.csv"
            for field in crosstab_fields(wildcards.review)
        ],
    }


def result_tables(wildcards):
    """Every CSV a review's run writes, for the data package."""
    tables = [
        rules.validate.output.issues,
        rules.validate.output.studies,
        rules.validate.output.codes,
        rules.validate.output.outcomes,
        rules.validate.output.screening,
        rules.validate.output.appraisal,
        rules.validate.output.findings,
        rules.check_narrative.output.issues,
        rules.tally.output.themes,
        rules.tally.output.cooccurrence,
        rules.tally.output.characteristics,
        rules.agreement.output.agreement,
        rules.agreement.output.disagreements,
        rules.outcomes.output.direction,
        rules.outcomes.output.direction_by_quality,
        rules.outcomes.output.meta_analysis,
        rules.outcomes.output.gap_map,
        rules.outcomes.output.study_weights,
        rules.small_study.output.table,
        rules.leave_one_out.output.table,
        rules.subgroups.output.subgroups,
        rules.subgroups.output.direction,
        rules.appraisal.output.by_study,
        rules.appraisal.output.summary,
        rules.findings.output.summary_of_findings,
        rules.findings.output.qualitative_findings,
        rules.findings.output.signals,
        rules.findings.output.warnings,
    ]
    tables = [t.format(review=wildcards.review) for t in tables]
    tables += [
        f"results/{wildcards.review}/tallies/themes_by_{field}.csv"
        for field in crosstab_fields(wildcards.review)
    ]
    return sorted(tables)
