"""How every run of the code location executes its steps: ``BIMED_EXECUTOR`` = ``in_process``, ``multiprocess``
or ``k8s``.

It is the Definitions' executor, set once in ``bimed_assets.definitions``: ``build_corpus``, ``train_and_evaluate``
and Dagster's implicit asset job (what an asset backfill, the nightly backfill sensor and the UI's *Materialize*
launch, one run per partition of the sharded LLM steps) all run their steps the same way.

- ``in_process``: every step in the run's process (the default on the bundled sample, where starting a Python
  process per step, ~2 s each for 30+ steps, costs several times the work: bench/results/sample_build.md; and
  with ``llm.shards`` > 1, where a backfill already runs its partitions side by side, one run each, and a run's
  steps, a shard's chats then its translations, follow each other: a process per step would only add the
  imports of two more processes per partition, all at once, to the backfill's start);
- ``multiprocess``: a process per step (the default on real data: steps run for minutes, independent ones use
  every core);
- ``k8s``: a Kubernetes Job per step (dagster-k8s' ``k8s_job_executor``, the ``k8s`` extra, imported only then),
  with the settings of the YAML file ``BIMED_STEP_PODS`` names (fields of :class:`StepPods`;
  ``deploy/k8s/step_pods.example.yaml``). The instance then launches runs with dagster-k8s' ``K8sRunLauncher``
  (``deploy/k8s/dagster.yaml``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from bimed_assets.defs.training.launcher import PodVolume

EXECUTORS = ("in_process", "multiprocess", "k8s")
STEP_PODS_ENV = "BIMED_STEP_PODS"
# What a step pod must see exactly as the run that launched it did, or it rebuilds another job: the shard count
# (partitions), the project file and this executor's own settings. Never secrets; they are passed as values, after
# the config maps, so a stale config map cannot give a step pod another shard count than its run.
DEFINITION_ENV = ("BIMED_CONFIG", "BIMED_LLM_SHARDS", "BIMED_EXECUTOR", STEP_PODS_ENV)
# Values of `env` are written into every Job spec (and shown in the UI as executor config): a name like these
# belongs in a Kubernetes secret listed under `env_secrets`.
SECRET_NAME = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|PASSWORD|SECRET|CREDENTIALS?)$", re.IGNORECASE)
# ... and so does a value holding a password, such as BIMED_LLM_CACHE=postgresql://user:password@host/db.
URL_PASSWORD = re.compile(r"://[^/@:\s]*:[^/@\s]+@")


class StepSettings(dg.Config):
    """Overrides for the pods of one step (by op name: ``translation``, ``bimed_corpus``…)."""

    resources: dict[str, dict[str, str]] | None = Field(default=None, description="Kubernetes resources, e.g. "
                                                        "{requests: {cpu: '4', memory: 32Gi}, limits: {memory: 32Gi}}.")
    node_selector: dict[str, str] = Field(default_factory=dict)


class StepPods(dg.Config):
    """The Kubernetes Job each step of a run runs in (``BIMED_EXECUTOR=k8s``): the image, namespace, environment
    (config maps, secrets), resources and labels of dagster-k8s' ``k8s_job_executor``."""

    image: str = Field(description="This project installed (the code location's image), at the same path.")
    namespace: str | None = Field(default=None, description="Unset: the run launcher's job_namespace.")
    service_account_name: str | None = Field(default=None)
    image_pull_policy: str | None = Field(default=None, description="Always, IfNotPresent or Never.")
    image_pull_secrets: list[str] = Field(default_factory=list)
    env_config_maps: list[str] = Field(default_factory=list, description="ConfigMaps of the code location's "
                                       "environment (BIMED_VAR_DIR, BIMED_LLM_BASE_URL, BIMED_LLM_LIMITER_URL…).")
    env_secrets: list[str] = Field(default_factory=list, description="Secrets whose keys become environment "
                                   "variables: the one holding BIMED_LLM_API_KEY. Only names reach the spec.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain values (written into the spec): never "
                                "a key, token or password.")
    resources: dict[str, dict[str, str]] = Field(default_factory=dict, description="Kubernetes resources of "
                                                 "every step pod: {requests: {...}, limits: {...}}.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    steps: dict[str, StepSettings] = Field(default_factory=dict, description="Per-step overrides, by op name.")
    volumes: list[PodVolume] = Field(default_factory=list, description="The shared storage (BIMED_VAR_DIR): every "
                                     "step reads its inputs from what other pods wrote.")
    labels: dict[str, str] = Field(default_factory=dict, description="Added to every step Job and pod.")
    max_concurrent: int | None = Field(default=None, description="Step pods at once per run (unset: as the graph "
                                       "allows; the llm_endpoint pool still bounds the LLM steps).")
    load_incluster_config: bool | None = Field(default=None, description="Unset: as the K8sRunLauncher.")
    kubeconfig_file: str | None = Field(default=None, description="Unset: as the K8sRunLauncher.")

    def check_steps(self, steps: Collection[str]) -> None:
        """Refuse per-step settings for a step the code location does not have: dagster-k8s would ignore them, and
        a misspelt name would run that step on the default pod (without its memory, off its node)."""
        unknown = sorted(set(self.steps) - set(steps))
        if unknown:
            raise ValueError(f"{STEP_PODS_ENV}: steps {unknown} are not steps of this code location; its steps "
                             f"are {sorted(steps)}")

    def executor_config(self) -> dict[str, Any]:
        """The configuration of ``k8s_job_executor`` (dagster_k8s.executor's schema)."""
        secret_like = sorted(name for name, value in self.env.items()
                             if SECRET_NAME.search(name) or URL_PASSWORD.search(str(value)))
        if secret_like:
            raise ValueError(f"{STEP_PODS_ENV}: env {secret_like} would be written into every step's Job spec: "
                             "put them in a Kubernetes secret and list it under env_secrets")
        forwarded = {name: os.environ[name] for name in DEFINITION_ENV if os.environ.get(name)}
        config: dict[str, Any] = {
            "job_image": self.image,
            "image_pull_secrets": [{"name": name} for name in self.image_pull_secrets],
            "env_config_maps": self.env_config_maps,
            "env_secrets": self.env_secrets,
            "env_vars": [f"{name}={value}" for name, value in {**self.env, **forwarded}.items()],
            "labels": {"app.kubernetes.io/part-of": "bimed", **self.labels},
            "resources": self.resources,
            "volumes": [volume.volume() for volume in self.volumes],
            "volume_mounts": [{"name": v.name, "mount_path": v.mount_path, "read_only": v.read_only}
                              for v in self.volumes],
            "per_step_k8s_config": {step: step_k8s_config(s.resources, s.node_selector)
                                    for step, s in self.steps.items()},
        }
        if self.node_selector:
            config["step_k8s_config"] = step_k8s_config(None, self.node_selector)
        optional = {"job_namespace": self.namespace, "service_account_name": self.service_account_name,
                    "image_pull_policy": self.image_pull_policy, "max_concurrent": self.max_concurrent,
                    "load_incluster_config": self.load_incluster_config, "kubeconfig_file": self.kubeconfig_file}
        config.update({key: value for key, value in optional.items() if value is not None})
        return config


def step_k8s_config(resources: dict | None, node_selector: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if resources:
        config["container_config"] = {"resources": resources}
    if node_selector:
        config["pod_spec_config"] = {"node_selector": node_selector}
    return config


def require_shared_limiter() -> None:
    """Step pods on many machines cannot share an in-process rate limiter: refuse a live endpoint without Redis.

    The ``llm_endpoint`` pool bounds the LLM steps that run at once through the instance's database, so it holds
    across pods, and each step takes ``concurrency / pool_steps`` of the endpoint's in-flight slots. But ``rpm`` and
    ``tpm`` are counted where the client runs: without ``BIMED_LLM_LIMITER_URL`` every step pod would spend the
    whole per-minute budget by itself, and N shards running at once would send N times what the endpoint allows
    (429s, retries, a provider's ban). On Kubernetes that is the normal case, not a corner of it, so it is refused
    up front instead of warned about in a log nobody reads; Redis is contacted only when rpm or tpm is set. Replaying
    the recordings (no BIMED_LLM_BASE_URL) calls no endpoint and needs nothing.
    """
    if os.environ.get("BIMED_LLM_BASE_URL") and not os.environ.get("BIMED_LLM_LIMITER_URL"):
        raise ValueError(
            "BIMED_EXECUTOR=k8s with a live LLM endpoint (BIMED_LLM_BASE_URL) needs BIMED_LLM_LIMITER_URL "
            "(redis://host:6379/0): step pods on several machines must share one requests/tokens-per-minute "
            "budget, which an in-process limiter cannot do")


def step_pods_from_env() -> StepPods:
    path = os.environ.get(STEP_PODS_ENV)
    if not path:
        raise ValueError(f"BIMED_EXECUTOR=k8s needs {STEP_PODS_ENV}: a YAML file of step pod settings "
                         "(see deploy/k8s/step_pods.example.yaml)")
    return StepPods(**yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def k8s_executor(pods: StepPods, steps: Collection[str]) -> dg.ExecutorDefinition:
    """``steps``: the op names of the code location, which ``pods.steps`` must be among."""
    pods.check_steps(steps)
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise RuntimeError("BIMED_EXECUTOR=k8s needs dagster-k8s, the project's `k8s` extra: "
                           "pip install -e '.[k8s]'") from exc
    require_shared_limiter()
    return k8s_job_executor.configured(pods.executor_config(), name="bimed_k8s")


def op_names(defs: dg.Definitions) -> set[str]:
    """The steps a run of ``defs`` may have: the op of each asset and asset check that is computed."""
    return {node.node_def.name for node in [*(defs.assets or ()), *(defs.asset_checks or ())]
            if isinstance(node, dg.AssetsDefinition) and node.is_executable}


def step_executor(on_bundled_sample: bool, shards: int = 1, steps: Collection[str] = ()) -> dg.ExecutorDefinition:
    """``BIMED_EXECUTOR``'s executor; unset: in one process on the bundled sample or when the LLM steps are cut
    into shards, a process per step otherwise. ``steps``: the code location's op names (``op_names``), against
    which the per-step pod settings of ``k8s`` are checked."""
    kind = os.environ.get("BIMED_EXECUTOR") or ("in_process" if on_bundled_sample or shards > 1 else "multiprocess")
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        return dg.multiprocess_executor
    if kind == "k8s":
        return k8s_executor(step_pods_from_env(), steps)
    raise ValueError(f"BIMED_EXECUTOR={kind!r}: expected one of {list(EXECUTORS)}")
