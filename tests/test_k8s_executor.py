"""How runs execute their steps (BIMED_EXECUTOR), and on Kubernetes the Job that dagster-k8s creates for one step
of one partition run of a sharded backfill, rendered by dagster-k8s' own executor and step handler (no cluster)."""

from __future__ import annotations

import base64
import json
import os
import sys
import zlib
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.context.system import PlanData, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import create_context_free_log_manager
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating.step_handler.base import StepHandlerContext
from dagster._core.instance.config import dagster_instance_config
from dagster._core.system_config.objects import ResolvedRunConfig
from dagster._core.test_utils import create_run_for_test, instance_for_test
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import deserialize_value

from bimed_assets import executors

REPO = Path(__file__).resolve().parent.parent
STEP_PODS = REPO / "deploy" / "k8s" / "step_pods.example.yaml"
INSTANCE = REPO / "deploy" / "k8s" / "dagster.yaml"
API_KEY = "sk-live-0123456789abcdef"  # in the run's environment (from the secret), never in a spec
ASSET_JOB = "__ASSET_JOB"  # Dagster's implicit asset job: what a backfill's runs are runs of


def load_defs() -> dg.Definitions:
    from bimed_assets.definitions import defs

    return defs()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No executor settings from the caller's shell; asset storage in a throwaway folder."""
    for name in (*executors.DEFINITION_ENV, "BIMED_SOURCE_ROOT", "BIMED_LLM_BASE_URL", "BIMED_LLM_LIMITER_URL",
                 "BIMED_LLM_API_KEY", "BIMED_LLM_POOL_STEPS", "BIMED_LLM_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


@pytest.fixture
def sharded(env, tmp_path):
    """A 4-shard build on configured sources (no caps): a full build is a backfill, one run per partition."""
    env.setenv("BIMED_SOURCE_ROOT", str(tmp_path / "sources"))
    env.setenv("BIMED_LLM_SHARDS", "4")
    return env


@pytest.fixture
def on_k8s(sharded):
    """The production settings: the example step pods, a live endpoint, its key and the shared limiter."""
    sharded.setenv("BIMED_EXECUTOR", "k8s")
    sharded.setenv("BIMED_STEP_PODS", str(STEP_PODS))
    sharded.setenv("BIMED_LLM_BASE_URL", "http://llm.internal:8000/v1")
    sharded.setenv("BIMED_LLM_LIMITER_URL", "redis://redis.internal:6379/0")
    sharded.setenv("BIMED_LLM_API_KEY", API_KEY)
    return sharded


def executor_names(defs: dg.Definitions) -> dict[str, str]:
    jobs = {name: defs.resolve_job_def(name) for name in ("build_corpus", "train_and_evaluate")}
    jobs[ASSET_JOB] = defs.resolve_implicit_global_asset_job_def()
    assert jobs[ASSET_JOB].name == ASSET_JOB
    return {name: job.executor_def.name for name, job in jobs.items()}


def test_every_job_runs_its_steps_as_bimed_executor_says(env, tmp_path):
    # The bundled sample (make run): one process, the jobs and the asset job alike.
    assert set(executor_names(load_defs()).values()) == {"in_process"}
    env.setenv("BIMED_SOURCE_ROOT", str(tmp_path / "sources"))
    # Real data: a process per step, so that independent steps use every core.
    assert set(executor_names(load_defs()).values()) == {"multiprocess"}
    # Sharded, the backfill runs its partitions side by side, one process each; build_corpus gets the same.
    env.setenv("BIMED_LLM_SHARDS", "4")
    assert set(executor_names(load_defs()).values()) == {"in_process"}
    env.setenv("BIMED_EXECUTOR", "in_process")
    assert set(executor_names(load_defs()).values()) == {"in_process"}
    env.setenv("BIMED_EXECUTOR", "k8s")
    env.setenv("BIMED_STEP_PODS", str(STEP_PODS))
    assert set(executor_names(load_defs()).values()) == {"bimed_k8s"}
    env.setenv("BIMED_EXECUTOR", "celery")
    with pytest.raises(ValueError, match=r"BIMED_EXECUTOR='celery'.*in_process.*multiprocess.*k8s"):
        load_defs()


def test_without_dagster_k8s_the_code_location_loads_and_k8s_names_the_extra(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # import dagster_k8s now raises ImportError
    assert executor_names(load_defs())["build_corpus"] == "in_process"
    env.setenv("BIMED_EXECUTOR", "k8s")
    env.setenv("BIMED_STEP_PODS", str(STEP_PODS))
    with pytest.raises(RuntimeError, match=r"needs dagster-k8s, the project's `k8s` extra: pip install -e '\.\[k8s\]'"):
        load_defs()


def test_k8s_refuses_a_missing_file_a_private_limiter_a_secret_in_the_spec_and_an_unknown_step(on_k8s, tmp_path):
    on_k8s.delenv("BIMED_STEP_PODS")
    with pytest.raises(ValueError, match="needs BIMED_STEP_PODS"):
        load_defs()
    on_k8s.setenv("BIMED_STEP_PODS", str(STEP_PODS))
    # Step pods on several machines: rpm/tpm are one budget only in Redis.
    on_k8s.delenv("BIMED_LLM_LIMITER_URL")
    with pytest.raises(ValueError, match="needs BIMED_LLM_LIMITER_URL"):
        load_defs()
    on_k8s.delenv("BIMED_LLM_BASE_URL")  # replaying the recordings: no endpoint, nothing to share
    assert executor_names(load_defs())[ASSET_JOB] == "bimed_k8s"
    leaky = tmp_path / "step_pods.yaml"
    leaky.write_text(yaml.safe_dump({"image": "img", "env": {
        "BIMED_LLM_API_KEY": API_KEY, "HF_TOKEN": "x", "BIMED_LLM_CACHE": "postgresql://bimed:hunter2@db/bimed",
        "BIMED_REVIEW_DB": "postgresql://bimed@db/review"}}))  # a URL without a password is a plain value
    on_k8s.setenv("BIMED_STEP_PODS", str(leaky))
    with pytest.raises(ValueError, match=r"\['BIMED_LLM_API_KEY', 'BIMED_LLM_CACHE', 'HF_TOKEN'\].*env_secrets"):
        load_defs()
    # A misspelt step would silently run on the default pod: without its memory, off the LLM node.
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(yaml.safe_dump({"image": "img", "steps": {"bimed_corpus": {}, "translations": {}}}))
    on_k8s.setenv("BIMED_STEP_PODS", str(misspelt))
    with pytest.raises(ValueError, match=r"steps \['translations'\] are not steps of this code location; its steps "
                       r"are \[.*'translation'"):
        load_defs()


def test_the_examples_configure_a_valid_executor_and_instance():
    config = executors.StepPods(**yaml.safe_load(STEP_PODS.read_text())).executor_config()
    from dagster_k8s.executor import _K8S_EXECUTOR_CONFIG_SCHEMA

    result = process_config(resolve_to_config_type(_K8S_EXECUTOR_CONFIG_SCHEMA), config)
    assert result.success, result.errors
    instance_config, _ = dagster_instance_config(str(INSTANCE.parent), INSTANCE.name)
    assert instance_config["run_launcher"]["class"] == "K8sRunLauncher"
    assert instance_config["concurrency"]["pools"]["granularity"] == "op"


@pytest.fixture
def k8s_instance(tmp_path):
    """An instance whose run launcher is the example's K8sRunLauncher, against a kubeconfig nothing listens at."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "none", "user": {"token": "none"}}],
        "contexts": [{"name": "test", "context": {"cluster": "none", "user": "none"}}]}))
    launcher = yaml.safe_load(INSTANCE.read_text())["run_launcher"]
    launcher["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))  # not in a pod here
    with instance_for_test(overrides={"run_launcher": launcher}) as instance:
        yield instance


def render_step_job(defs: dg.Definitions, instance: dg.DagsterInstance, step: str, tags: dict[str, str]):
    """What the run worker of a partition run does to launch ``step``: the job's executor from its (empty) run
    config, then dagster-k8s' K8sStepHandler.launch_step, with the Kubernetes API replaced by a mock."""
    graph = defs.resolve_asset_graph()
    keys = next(a for a in graph.assets_defs if a.node_def.name == step).keys
    recon = ReconstructableRepository.for_module("bimed_assets.definitions", "defs", str(REPO)
                                                 ).get_reconstructable_job(ASSET_JOB).get_subset(asset_selection=keys)
    plan = create_execution_plan(recon, tags=tags)
    assert [s.key for s in plan.steps] == [step]
    run = create_run_for_test(instance, job_name=ASSET_JOB, tags=tags, asset_selection=keys,
                              job_code_origin=recon.get_python_origin())
    executor_def = defs.resolve_implicit_global_asset_job_def().executor_def
    executor_config = ResolvedRunConfig.build(recon.get_definition(), {}).execution.execution_engine_config
    executor = executor_def.executor_creation_fn(InitExecutorContext(
        job=recon, executor_def=executor_def, executor_config=executor_config, instance=instance))
    handler = executor._step_handler
    handler._api_client = mock.MagicMock()
    plan_context = PlanOrchestrationContext(
        plan_data=PlanData(job=recon, dagster_run=run, instance=instance, execution_plan=plan, raise_on_error=True,
                           retry_mode=RetryMode.DISABLED),
        log_manager=create_context_free_log_manager(instance, run), executor=executor, output_capture=None)
    args = ExecuteStepArgs(job_origin=recon.get_python_origin(), run_id=run.run_id, step_keys_to_execute=[step],
                           instance_ref=instance.get_ref(), retry_mode=RetryMode.DISABLED, should_verify_step=True)
    list(handler.launch_step(StepHandlerContext(instance=instance, plan_context=plan_context, steps=plan.steps,
                                                execute_step_args=args, dagster_run=run)))
    [call] = handler._api_client.create_namespaced_job_with_retries.call_args_list
    return run, call.kwargs["namespace"], call.kwargs["body"]


def test_a_partition_runs_its_translation_step_in_a_kubernetes_job(on_k8s, k8s_instance):
    defs = load_defs()
    tags = {"dagster/partition": "03", "dagster/backfill": "nightly1"}
    run, namespace, job = render_step_job(defs, k8s_instance, "translation", tags)

    assert namespace == "bimed"
    pod = job.spec.template.spec
    [container] = pod.containers
    assert container.image == "registry.example.org/bimed:latest" and container.image_pull_policy == "IfNotPresent"
    assert [s.name for s in pod.image_pull_secrets] == ["regcred"]
    assert pod.service_account_name == "bimed-steps"

    # The command executes this run's translation step; the run carries the partition, which the step reads back.
    assert container.args == ["dagster", "api", "execute_step"]
    env = {e.name: e.value for e in container.env}
    step_args = deserialize_value(zlib.decompress(base64.b64decode(env["DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]))
                                  .decode(), ExecuteStepArgs)
    assert step_args.run_id == run.run_id and step_args.step_keys_to_execute == ["translation"]
    assert step_args.job_origin.job_name == ASSET_JOB
    assert step_args.job_origin.repository_origin.code_pointer.module == "bimed_assets.definitions"
    assert k8s_instance.get_run_by_id(step_args.run_id).tags["dagster/partition"] == "03"
    assert env["DAGSTER_RUN_STEP_KEY"] == "translation"
    # The step pod rebuilds the same job: 4 shards, this executor, from the values the run saw.
    assert (env["BIMED_LLM_SHARDS"], env["BIMED_EXECUTOR"], env["BIMED_STEP_PODS"]) == ("4", "k8s", str(STEP_PODS))

    # The key comes from the secret, by name; its value is nowhere in the Job, nor in the step's serialized args.
    sources = [(s.config_map_ref and s.config_map_ref.name, s.secret_ref and s.secret_ref.name)
               for s in container.env_from]
    assert sources == [("bimed-env", None), (None, "bimed-llm"), (None, "bimed-postgres")]
    assert "BIMED_LLM_API_KEY" not in env
    rendered = json.dumps(job.to_dict(), default=str) + repr(step_args)
    assert API_KEY not in rendered and os.environ["BIMED_LLM_API_KEY"] == API_KEY

    assert container.resources.requests == {"cpu": "1", "memory": "4Gi"}
    assert container.resources.limits == {"memory": "4Gi"}
    assert pod.node_selector == {"bimed/llm": "true"}  # the LLM steps share one node (the SQLite cache)
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [("bimed-data", "/data/bimed")]
    assert pod.volumes[0].persistent_volume_claim.claim_name == "bimed-data"
    for labels in (job.metadata.labels, job.spec.template.metadata.labels):
        assert labels["app.kubernetes.io/part-of"] == "bimed" and labels["team"] == "med-nlp"
        assert labels["dagster/op"] == "translation" and labels["dagster/run-id"] == run.run_id


def test_the_corpus_step_gets_its_own_resources_and_any_node(on_k8s, k8s_instance):
    _, _, job = render_step_job(load_defs(), k8s_instance, "bimed_corpus", {"dagster/backfill": "nightly1"})
    pod = job.spec.template.spec
    assert pod.containers[0].resources.requests == {"cpu": "4", "memory": "32Gi"}
    assert pod.node_selector is None
