"""End to end: the sample run sends items to review; a decision made through the web app's JSON API makes the
sensor re-materialize the corpus, and the approved Arabic appears in the final Parquet with the reviewer's
provenance."""

import json

import dagster as dg
import polars as pl
from fastapi.testclient import TestClient

from bimed_assets.benchmarks.translations import REVIEW_TASK
from bimed_assets.defs.review.assets import ReviewStore, review_decisions_sensor
from translation_review.service import QueueFilter
from translation_review.web.app import create_app


def test_approval_flows_into_the_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BIMED_REVIEW_DB", f"sqlite:///{tmp_path / 'review.sqlite'}")
    from bimed_assets.definitions import defs

    definitions, instance = defs(), dg.DagsterInstance.ephemeral()
    assert definitions.resolve_job_def("build_corpus").execute_in_process(instance=instance).success
    store = ReviewStore()
    service = store.service()

    def pending_training() -> int:  # benchmark items all go to review too: leave them out
        return service.progress()["pending"] - service.progress(QueueFilter(task=REVIEW_TASK))["pending"]

    assert pending_training() == 2  # the two items still below threshold after round 3

    # Re-pushing changes nothing.
    again = definitions.resolve_job_def("build_corpus").execute_in_process(instance=instance)
    assert again.success and pending_training() == 2

    context = dg.build_sensor_context(instance=instance, resources={"review_store": store})
    assert isinstance(review_decisions_sensor(context), dg.SkipReason)  # nothing decided yet

    service.create_reviewer("amal", "a long passphrase")
    # The reviewer works through the real app's JSON API with her API token (only its SHA-256 is stored).
    token = service.issue_token("amal")
    api = TestClient(create_app(service, "s" * 40), headers={"Authorization": f"Bearer {token}"})
    # The item whose Arabic only the judge faulted (the other keeps English lists the corpus checks would refuse).
    item_id = "medical_meadow-24b1b5aa332ce7f4"
    claimed = api.post(f"/api/items/{item_id}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "amal"
    item = api.get(f"/api/items/{item_id}").json()
    edited = json.loads(json.dumps(item["best_translation"]))
    first_field = next(k for k, v in edited.items() if isinstance(v, str))
    edited[first_field] = edited[first_field] + " (راجعه مراجع)"
    decided = api.post(f"/api/items/{item_id}/decision",
                       json={"version": item["version"], "action": "edit", "translation": edited})
    assert decided.status_code == 200 and decided.json()["reviewer"] == "amal"

    request = review_decisions_sensor(context)
    assert isinstance(request, dg.RunRequest) and context.cursor
    selection = review_decisions_sensor.asset_selection.resolve(definitions.resolve_asset_graph())
    assert {k.to_user_string() for k in selection} == {"reviewed_translations", "bimed_corpus", "mcqa_benchmarks"}
    run = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=list(selection))
    assert run.success

    corpus = pl.read_parquet(tmp_path / "corpus/bimed_corpus.parquet")
    reviewed = corpus.filter(pl.col("provenance").struct.field("item_id") == item_id,
                             pl.col("language") != "en")
    assert len(reviewed) == 1
    provenance = reviewed["provenance"][0]
    assert (provenance["review_decision"], provenance["reviewer"]) == ("edited", "amal")
    assert provenance["reviewed_at"]
    assert "(راجعه مراجع)" in " ".join(m["content"] for m in reviewed["messages"][0])
    assert isinstance(review_decisions_sensor(context), dg.SkipReason)  # the cursor moved on
