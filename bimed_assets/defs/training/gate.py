"""Training starts only from a corpus whose blocking checks passed.

Within one run Dagster already holds back whatever is downstream of a failed blocking check. A training run
launched on its own reads the corpus that is on disk, so it looks up, on the instance, the check evaluations of
the corpus's latest materialization and refuses unless every blocking check passed on exactly that one.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg


def latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord:
    records = instance.fetch_materializations(key, limit=1).records
    if not records:
        raise dg.Failure(f"{key.to_user_string()} has never been materialized: build it first (job build_corpus)")
    return records[0]


def blocking_check_problems(instance: dg.DagsterInstance, materialization: dg.EventLogRecord,
                            checks: Sequence[dg.AssetCheckKey]) -> dict[str, str]:
    """Each blocking check that did not pass on this materialization, with why.

    Whatever the corpus's last run left: a check only planned (the step was killed or failed before it ran)
    has no evaluation and no target materialization, and is reported as such, never read as one."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(checks))
    problems = {}
    for key in checks:
        record = latest.get(key)
        # ``record.evaluation`` is whatever event the record holds: an evaluation, or only its plan.
        evaluation = record.evaluation if record is not None else None
        if record is None:
            problems[key.name] = "not evaluated"
        elif not isinstance(evaluation, dg.AssetCheckEvaluation):
            problems[key.name] = f"not evaluated ({record.status.value} in run {record.run_id}, which did not " \
                                 "complete it)"
        elif (evaluation.target_materialization_data is None
              or evaluation.target_materialization_data.storage_id != materialization.storage_id):
            problems[key.name] = "not evaluated on the latest materialization"
        elif not evaluation.passed:
            problems[key.name] = "failed"
    return problems


def require_passing_checks(context: dg.AssetExecutionContext, asset: dg.AssetsDefinition) -> dg.EventLogRecord:
    """The asset's latest materialization, or a Failure naming every blocking check that did not pass on it."""
    materialization = latest_materialization(context.instance, asset.key)
    checks = [spec.key for spec in asset.check_specs if spec.blocking]
    problems = blocking_check_problems(context.instance, materialization, checks)
    if problems:
        listed = ", ".join(f"{name} ({why})" for name, why in sorted(problems.items()))
        raise dg.Failure(
            description=f"refusing to train on {asset.key.to_user_string()} (materialized in run "
                        f"{materialization.run_id}): blocking checks did not pass: {listed}",
            metadata={"failing_checks": dg.MetadataValue.json(problems), "corpus_run_id": materialization.run_id},
        )
    context.log.info(f"{asset.key.to_user_string()}: all {len(checks)} blocking checks passed on run "
                     f"{materialization.run_id}")
    return materialization
