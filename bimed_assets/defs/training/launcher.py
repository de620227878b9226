"""Where the training jobs run: a local subprocess by default, a Kubernetes pod on a GPU node in production.

Either way the job is `python -m training_jobs.<module>` speaking Dagster Pipes, so logs, metadata and failures
come back into the run. dagster-k8s (the `k8s` extra) is imported only when a pod is launched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from bimed_assets.paths import PROJECT_ROOT

# Many GPUs on one node: one process per GPU with DeepSpeed ZeRO-2 (the config sits in the image's checkout).
ACCELERATE_CONFIG = "training_jobs/configs/accelerate_zero2.yaml"


class PodVolume(dg.Config):
    """A volume of the training pod: a PersistentVolumeClaim (or a host path) mounted at `mount_path`."""

    name: str = Field(description="Volume name in the pod spec, e.g. `models`.")
    mount_path: str = Field(description="Where the container sees it, e.g. `/models`.")
    claim_name: str | None = Field(default=None, description="PersistentVolumeClaim to mount.")
    host_path: str | None = Field(default=None, description="A node directory instead of a claim.")
    read_only: bool = Field(default=False, description="Mount read-only (the base model, the corpus).")

    def volume(self) -> dict[str, Any]:
        if (self.claim_name is None) == (self.host_path is None):
            raise ValueError(f"volume {self.name!r}: set exactly one of claim_name and host_path")
        if self.claim_name:
            return {"name": self.name, "persistentVolumeClaim": {"claimName": self.claim_name,
                                                                 "readOnly": self.read_only}}
        return {"name": self.name, "hostPath": {"path": self.host_path, "type": "Directory"}}


class GpuPod(dg.Config):
    """The pod each training job runs in. Paths in the run config (base model, corpus, outputs) are read inside
    the pod: mount the volumes at the paths the Dagster deployment uses for them."""

    image: str = Field(description="Image with this project installed with the `train` and `gpu` extras.")
    namespace: str | None = Field(default=None, description="Unset: the current namespace, else `default`.")
    gpus: int = Field(default=1, description="GPUs per pod; above 1 training runs under accelerate (ZeRO-2).")
    gpu_resource: str = Field(default="nvidia.com/gpu", description="Extended resource name of the GPUs.")
    cpu: str | None = Field(default="8", description="CPU request.")
    memory: str | None = Field(default="64Gi", description="Memory request and limit.")
    shm_size: str = Field(default="16Gi", description="In-memory /dev/shm (NCCL and data loaders need it).")
    node_selector: dict[str, str] = Field(default_factory=dict, description="e.g. {'gpu': 'h100'}.")
    tolerations: list[dict[str, str]] = Field(
        default_factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        description="Tolerations of the GPU nodes' taints.")
    volumes: list[PodVolume] = Field(default_factory=list, description="Model, corpus and output volumes.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment (e.g. HF_HUB_OFFLINE).")
    working_dir: str = Field(default="/app", description="The project checkout inside the image.")
    service_account_name: str | None = Field(default=None)
    image_pull_secrets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    load_incluster_config: bool | None = Field(default=None, description="Unset: in-cluster when the Dagster "
                                               "process runs in a pod, else the kubeconfig.")
    kubeconfig_file: str | None = Field(default=None)
    kube_context: str | None = Field(default=None)
    poll_interval_s: float = Field(default=10.0)
    pod_wait_timeout_s: float = Field(default=72 * 3600.0, description="Fail the step after this long.")

    def pod_spec(self) -> dict[str, Any]:
        """The base pod spec handed to PipesK8sClient (it adds the image, command and Pipes environment)."""
        resources: dict[str, dict[str, str]] = {"limits": {self.gpu_resource: str(self.gpus)}, "requests": {}}
        if self.cpu:
            resources["requests"]["cpu"] = self.cpu
        if self.memory:
            resources["requests"]["memory"] = resources["limits"]["memory"] = self.memory
        volumes = [v.volume() for v in self.volumes]
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": self.shm_size}})
        mounts = [{"name": v.name, "mountPath": v.mount_path, "readOnly": v.read_only} for v in self.volumes]
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "containers": [{"workingDir": self.working_dir, "resources": resources, "volumeMounts": mounts}],
            "volumes": volumes,
            "tolerations": self.tolerations,
        }
        if self.node_selector:
            spec["nodeSelector"] = self.node_selector
        if self.service_account_name:
            spec["serviceAccountName"] = self.service_account_name
        if self.image_pull_secrets:
            spec["imagePullSecrets"] = [{"name": name} for name in self.image_pull_secrets]
        return spec

    def command(self, module: str, distributed: bool) -> list[str]:
        if distributed and self.gpus > 1:
            return ["accelerate", "launch", "--config_file", ACCELERATE_CONFIG, "--num_processes", str(self.gpus),
                    "-m", module]
        return ["python", "-m", module]


class TrainingLauncher(dg.ConfigurableResource):
    """Launches `python -m training_jobs.<job>` through Dagster Pipes: a local subprocess, or with `pod` set,
    a Kubernetes pod on a GPU node (PipesK8sClient)."""

    pod: GpuPod | None = Field(default=None, description="Unset: a local subprocess of this Python.")
    python: str = Field(default=sys.executable, description="Interpreter of the local subprocess.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of the job.")

    def run(self, context: dg.AssetExecutionContext, module: str, extras: dict[str, Any],
            distributed: bool = False) -> dg.PipesClientCompletedInvocation:
        """Run one job; `distributed` jobs (training) use every GPU of the pod."""
        if self.pod is None:
            client = dg.PipesSubprocessClient(cwd=str(PROJECT_ROOT), env=self.env)
            return client.run(command=[self.python, "-m", module], context=context, extras=extras)
        return self.k8s_client().run(context=context, extras=extras, **self.k8s_run_args(module, distributed))

    def k8s_run_args(self, module: str, distributed: bool) -> dict[str, Any]:
        pod = self._pod()
        return {
            "image": pod.image,
            "command": pod.command(module, distributed),
            "namespace": pod.namespace,
            "env": {**pod.env, **self.env},
            "base_pod_meta": {"labels": {"app.kubernetes.io/part-of": "bimed", **pod.labels}},
            "base_pod_spec": pod.pod_spec(),
            "pod_wait_timeout": pod.pod_wait_timeout_s,
        }

    def k8s_client(self):
        try:
            from dagster_k8s import PipesK8sClient
        except ImportError as exc:
            raise RuntimeError("training on Kubernetes needs dagster-k8s: pip install -e '.[k8s]'") from exc
        pod = self._pod()
        return PipesK8sClient(load_incluster_config=pod.load_incluster_config, kubeconfig_file=pod.kubeconfig_file,
                              kube_context=pod.kube_context, poll_interval=pod.poll_interval_s)

    def _pod(self) -> GpuPod:
        if self.pod is None:
            raise ValueError("no pod configured: this launcher runs local subprocesses")
        return self.pod


def launcher_from_env() -> TrainingLauncher:
    """Local subprocesses, unless BIMED_TRAINING_POD names a YAML file of `GpuPod` fields (production)."""
    path = os.environ.get("BIMED_TRAINING_POD")
    if not path:
        return TrainingLauncher()
    return TrainingLauncher(pod=GpuPod(**yaml.safe_load(Path(path).read_text(encoding="utf-8"))))
