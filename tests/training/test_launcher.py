"""The Kubernetes launch of the training jobs, checked on the pod that dagster-k8s builds (no cluster needed)."""

from pathlib import Path

import pytest
from dagster_k8s import PipesK8sClient  # the `k8s` extra, installed by `make test`
from dagster_k8s.pipes import build_pod_body

from bimed_assets.defs.training.launcher import GpuPod, PodVolume, TrainingLauncher, launcher_from_env

EXAMPLE = Path(__file__).resolve().parents[2] / "training_jobs" / "configs" / "k8s_pod.example.yaml"


def pod_of(launcher: TrainingLauncher, module: str, distributed: bool):
    """The V1Pod PipesK8sClient.run creates from these arguments (the Pipes bootstrap variables stand in)."""
    args = launcher.k8s_run_args(module, distributed)
    env = {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg", **args["env"]}
    return args, build_pod_body(pod_name="dagster-run-x", image=args["image"], command=args["command"],
                                env_vars=env, base_pod_meta=args["base_pod_meta"],
                                base_pod_spec=args["base_pod_spec"])


def test_training_pod_requests_gpus_and_mounts_the_volumes():
    launcher = TrainingLauncher(env={"PYTHONUNBUFFERED": "1"}, pod=GpuPod(
        image="registry/bimed-train:1", namespace="ml", gpus=4, node_selector={"gpu": "h100"},
        env={"HF_HUB_OFFLINE": "1"}, image_pull_secrets=["regcred"],
        volumes=[PodVolume(name="models", mount_path="/models", claim_name="models", read_only=True),
                 PodVolume(name="data", mount_path="/data", claim_name="bimed-data")]))
    args, pod = pod_of(launcher, "training_jobs.train", distributed=True)
    assert args["namespace"] == "ml" and args["pod_wait_timeout"] == 72 * 3600
    [container] = pod.spec.containers
    assert container.image == "registry/bimed-train:1" and container.working_dir == "/app"
    assert container.command == ["accelerate", "launch", "--config_file", "training_jobs/configs/accelerate_zero2.yaml",
                                 "--num_processes", "4", "-m", "training_jobs.train"]
    assert container.resources.limits == {"nvidia.com/gpu": "4", "memory": "64Gi"}
    assert container.resources.requests == {"cpu": "8", "memory": "64Gi"}
    env = {e.name: e.value for e in container.env}
    assert env == {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg", "HF_HUB_OFFLINE": "1",
                   "PYTHONUNBUFFERED": "1"}
    assert [(m.name, m.mount_path, m.read_only) for m in container.volume_mounts] == [
        ("models", "/models", True), ("data", "/data", False), ("dshm", "/dev/shm", None)]
    volumes = {v.name: v for v in pod.spec.volumes}
    assert volumes["models"].persistent_volume_claim.claim_name == "models"
    assert volumes["models"].persistent_volume_claim.read_only is True
    assert volumes["dshm"].empty_dir.medium == "Memory" and volumes["dshm"].empty_dir.size_limit == "16Gi"
    assert pod.spec.restart_policy == "Never" and pod.spec.node_selector == {"gpu": "h100"}
    assert [(t.key, t.effect) for t in pod.spec.tolerations] == [("nvidia.com/gpu", "NoSchedule")]
    assert [s.name for s in pod.spec.image_pull_secrets] == ["regcred"]
    assert pod.metadata.labels["app.kubernetes.io/part-of"] == "bimed"


def test_evaluation_and_tiny_model_run_one_process_even_on_many_gpus():
    launcher = TrainingLauncher(pod=GpuPod(image="img", gpus=8))
    for module in ("training_jobs.evaluate", "training_jobs.tiny"):
        _, pod = pod_of(launcher, module, distributed=False)
        assert pod.spec.containers[0].command == ["python", "-m", module]
        assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "8"


def test_client_gets_the_cluster_settings():
    launcher = TrainingLauncher(pod=GpuPod(image="img", kubeconfig_file="/etc/kube/config", kube_context="gpu",
                                           poll_interval_s=2.5))
    client = launcher.k8s_client()
    assert isinstance(client, PipesK8sClient)
    assert (client.kubeconfig_file, client.kube_context, client.poll_interval) == ("/etc/kube/config", "gpu", 2.5)


def test_the_documented_example_configures_a_pod(monkeypatch):
    monkeypatch.setenv("BIMED_TRAINING_POD", str(EXAMPLE))
    launcher = launcher_from_env()
    _, pod = pod_of(launcher, "training_jobs.train", distributed=True)
    container = pod.spec.containers[0]
    assert container.resources.limits["nvidia.com/gpu"] == "8" and "--num_processes" in container.command
    assert {m.mount_path for m in container.volume_mounts} == {"/models", "/data/bimed", "/dev/shm"}
    monkeypatch.delenv("BIMED_TRAINING_POD")
    assert launcher_from_env().pod is None  # the default: local subprocesses


def test_a_volume_needs_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one of claim_name and host_path"):
        GpuPod(image="img", volumes=[PodVolume(name="v", mount_path="/v")]).pod_spec()
