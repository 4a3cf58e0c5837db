"""Static checks of infra/: the compose file, Kubernetes manifests, Dask cluster specs and the
Dockerfile. No container engine or cluster runs here, so these parse the files and check the
settings that matter (loopback ports, ClusterIP services, non-root image, GPU resources,
references between files) rather than starting anything."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
KUBERNETES = INFRA / "kubernetes"
NAMESPACE = "trialflow"
POOL = "trialflow-process"
SCHEDULER = "tcp://dask-scheduler:8786"
MLFLOW = "http://mlflow:5000"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def load_all(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def yaml_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*") if p.suffix in (".yaml", ".yml"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def manifests() -> list[tuple[str, dict]]:
    """(file name, document) for every manifest kustomization.yaml applies."""
    return [
        (path.name, doc)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]


def workloads(manifests) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests if doc["kind"] in WORKLOAD_KINDS}


def containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def argv(container_or_service: dict) -> list[str]:
    """A compose service's or a container's full command line, as strings."""
    parts = container_or_service.get("command", []) or []
    if isinstance(parts, str):
        parts = parts.split()
    return [str(p) for p in [*parts, *(container_or_service.get("args") or [])]]


def flag_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


# --- every YAML file -------------------------------------------------------------------


def test_infra_has_the_expected_files():
    names = {str(p.relative_to(INFRA)) for p in INFRA.rglob("*") if p.is_file()}
    expected = {
        "Dockerfile",
        "compose.yaml",
        ".env.example",
        "dask/jobqueue.yaml",
        "dask/kubernetes-cluster.yaml",
        "kubernetes/kustomization.yaml",
    }
    assert expected <= names


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_yaml_parses(path):
    docs = load_all(path)
    assert docs, f"{path} holds no YAML document"
    assert all(isinstance(doc, dict) for doc in docs)


# Every role the stack runs, in compose and in Kubernetes alike.
ROLES = {
    "postgres",
    "prefect-server",
    "prefect-worker",
    "mlflow",
    "dask-scheduler",
    "dask-worker-cpu",
    "dask-worker-gpu",
}


# --- compose ---------------------------------------------------------------------------


def test_compose_has_every_role(compose):
    assert set(compose["services"]) == ROLES


def test_compose_dependencies_exist(compose):
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        missing = set(depends) - set(services)
        assert not missing, f"{name} depends on undefined services {missing}"


def published_ports(service: dict) -> list[tuple[str | None, str]]:
    """(host address, container port) of each published port; None: every interface."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip"), str(port["target"])))
            continue
        parts = str(port).rsplit(":", 2)
        ports.append((parts[0] if len(parts) == 3 else None, parts[-1].split("/")[0]))
    return ports


def test_compose_publishes_only_on_loopback(compose):
    published = {}
    for name, service in compose["services"].items():
        for host_ip, target in published_ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {target} on {host_ip or 'all'}"
            published[target] = name
    assert published == {
        "4200": "prefect-server",
        "5000": "mlflow",
        "8786": "dask-scheduler",
        "8787": "dask-scheduler",
    }
    assert "ports" not in compose["services"]["postgres"]


def test_compose_gpu_worker_is_opt_in_and_declares_a_gpu(compose):
    services = compose["services"]
    gpu = services["dask-worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert flag_value(argv(gpu), "--resources") == "GPU=1"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert gpu["build"]["args"]["VARIANT"] == "gpu"
    # Everything else starts by default, and only the GPU worker claims the resource.
    for name, service in services.items():
        if name != "dask-worker-gpu":
            assert "profiles" not in service, name
            assert "--resources" not in argv(service), name


def test_compose_dask_workers_join_the_scheduler_single_threaded(compose):
    for name in ("dask-worker-cpu", "dask-worker-gpu"):
        args = argv(compose["services"][name])
        assert args[:3] == ["dask", "worker", SCHEDULER], name
        assert flag_value(args, "--nthreads") == "1", name
    scheduler = argv(compose["services"]["dask-scheduler"])
    assert flag_value(scheduler, "--port") == "8786"


def test_compose_servers_use_postgres_and_the_worker_the_server(compose):
    services = compose["services"]
    server = services["prefect-server"]
    assert argv(server)[:3] == ["prefect", "server", "start"]
    assert flag_value(argv(server), "--host") == "0.0.0.0"
    database = server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert database.startswith("postgresql+asyncpg://") and "@postgres:5432/prefect" in database
    assert "@postgres:5432/mlflow" in services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
    # Other services call MLflow as mlflow:5000; it rejects Host headers it does not allow.
    assert "mlflow:5000" in services["mlflow"]["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"]
    worker = services["prefect-worker"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert flag_value(argv(worker), "--pool") == deployment_pool()
    assert flag_value(argv(worker), "--type") == "process"


def test_compose_prefect_worker_points_runs_at_the_servers(compose):
    """Flow runs inherit the worker's environment; trialflow reads both variables."""
    env = compose["services"]["prefect-worker"]["environment"]
    assert_server_variables(env)
    assert flag_value(argv(compose["services"]["dask-scheduler"]), "--port") == "8786"
    assert flag_value(argv(compose["services"]["mlflow"]), "--port") == "5000"


def assert_server_variables(env: dict) -> None:
    assert env["DASK_SCHEDULER_ADDRESS"] == SCHEDULER
    assert env["TRIALFLOW_MLFLOW_URI"] == MLFLOW
    # The names trialflow reads: TrainConfig.dask_address and registry.tracking_uri.
    assert "DASK_SCHEDULER_ADDRESS" in (ROOT / "trialflow" / "config.py").read_text()
    assert "TRIALFLOW_MLFLOW_URI" in (ROOT / "trialflow" / "registry" / "store.py").read_text()


def deployment_pool() -> str:
    prefect = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in prefect["deployments"]}
    assert pools == {POOL}
    return POOL


def database_passwords(text: str) -> list[str]:
    """The password part of every user:password@host URL in ``text``."""
    return re.findall(r"://(?:\$\{[^}]*\}|[^:/@\s]+):(\$\{[^}]*\}|[^@\s]+)@", text)


def test_compose_secrets_come_from_the_env_file(compose):
    text = (INFRA / "compose.yaml").read_text()
    passwords = database_passwords(text)
    assert len(passwords) == 2, "expected Prefect's and MLflow's database URLs"
    assert all(p.startswith("${POSTGRES_PASSWORD") for p in passwords), passwords
    env = compose["services"]["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_env_example_lists_every_variable_and_no_secret():
    text = (INFRA / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = dict(
        line.split("=", 1)
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert used <= set(example), used - set(example)
    assert example["POSTGRES_PASSWORD"] == ""
    ignored = (INFRA / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and "kubernetes/postgres.env" in ignored


def test_compose_initdb_script_creates_the_mlflow_database(compose):
    mounts = compose["services"]["postgres"]["volumes"]
    assert "./postgres/initdb:/docker-entrypoint-initdb.d:ro" in mounts
    sql = (INFRA / "postgres" / "initdb" / "10-mlflow.sql").read_text()
    assert "CREATE DATABASE mlflow;" in sql


# --- Kubernetes ------------------------------------------------------------------------


def test_kubernetes_documents_are_named_and_namespaced(manifests):
    assert manifests
    for file, doc in manifests:
        assert doc.get("apiVersion") and doc.get("kind"), file
        assert doc.get("metadata", {}).get("name"), f"{file}: {doc['kind']} has no name"
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, (file, doc["metadata"]["name"])


def test_kubernetes_services_are_cluster_internal(manifests):
    services = [doc for _, doc in manifests if doc["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {
        "postgres",
        "prefect-server",
        "mlflow",
        "dask-scheduler",
    }
    for service in services:
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]
    operator_cluster = load_all(INFRA / "dask" / "kubernetes-cluster.yaml")[0]
    assert operator_cluster["spec"]["scheduler"]["service"]["type"] == "ClusterIP"


def test_kubernetes_services_select_pods_and_named_ports(manifests):
    pods = [w["spec"]["template"] for w in workloads(manifests).values()]
    for _, service in manifests:
        if service["kind"] != "Service":
            continue
        selector = service["spec"]["selector"].items()
        matches = [p for p in pods if selector <= p["metadata"]["labels"].items()]
        assert len(matches) == 1, service["metadata"]["name"]
        port_names = {
            port["name"] for c in matches[0]["spec"]["containers"] for port in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)


def test_kustomization_lists_exactly_the_manifests():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    present = sorted(p.name for p in KUBERNETES.glob("*.y*ml") if p.stem != "kustomization")
    assert sorted(kustomization["resources"]) == present
    assert len(set(kustomization["resources"])) == len(kustomization["resources"])
    assert kustomization["namespace"] == NAMESPACE
    # The Secret's source is a local, git-ignored file; its template is committed.
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == "trialflow-postgres"
    ignored = (INFRA / ".gitignore").read_text().splitlines()
    for env_file in generator["envs"]:
        assert (KUBERNETES / f"{env_file}.example").is_file()
        assert f"kubernetes/{env_file}" in ignored


def pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def test_kubernetes_containers_have_pinned_images_and_commands(manifests):
    found = workloads(manifests)
    assert set(found) == ROLES
    for name, workload in found.items():
        template = workload["spec"]["template"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= (
            template["metadata"]["labels"].items()
        ), name
        for container in containers(template["spec"]):
            assert pinned(container.get("image", "")), (name, container.get("image"))
            assert argv(container), f"{name}/{container['name']} has no command"
            assert container.get("resources", {}).get("requests"), name


def test_kubernetes_pods_run_as_non_root(manifests):
    for name, workload in workloads(manifests).items():
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] != 0, name
        if name != "postgres":  # the postgres image's own user
            assert context["runAsUser"] == dockerfile_uid(), name


def test_kubernetes_env_references_are_defined_first(manifests):
    """Kubernetes expands $(VAR) only for variables defined earlier in the same list."""
    for name, workload in workloads(manifests).items():
        for container in containers(workload["spec"]["template"]["spec"]):
            defined = set()
            for variable in container.get("env", []):
                for ref in re.findall(r"\$\((\w+)\)", variable.get("value", "")):
                    assert ref in defined, (name, variable["name"], ref)
                defined.add(variable["name"])
            for ref in re.findall(r"\$\((\w+)\)", " ".join(argv(container))):
                assert ref in defined, (name, ref)


def test_kubernetes_references_resolve(manifests):
    names = {(doc["kind"], doc["metadata"]["name"]) for _, doc in manifests}
    text = "\n".join(p.read_text() for p in KUBERNETES.glob("*.yaml"))
    assert "LoadBalancer" not in text and "NodePort" not in text
    for name, workload in workloads(manifests).items():
        spec = workload["spec"]["template"]["spec"]
        claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])} | claims
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in names, (name, claim)
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names, name
        for container in containers(spec):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, (name, mount["name"])
            for variable in container.get("env", []):
                secret = variable.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret == {"name": "trialflow-postgres", "key": "POSTGRES_PASSWORD"}


def test_kubernetes_database_urls_take_the_password_from_the_secret():
    text = "\n".join(p.read_text() for p in KUBERNETES.glob("*.yaml"))
    passwords = database_passwords(text)
    assert len(passwords) == 2
    assert set(passwords) == {"$(POSTGRES_PASSWORD)"}


def test_kubernetes_initdb_matches_compose(manifests):
    (config_map,) = [doc for _, doc in manifests if doc["kind"] == "ConfigMap"]
    sql = (INFRA / "postgres" / "initdb" / "10-mlflow.sql").read_text()
    assert config_map["data"]["10-mlflow.sql"] == sql


def test_kubernetes_worker_variables_name_the_services(manifests):
    """The prefect-worker's DASK_SCHEDULER_ADDRESS and TRIALFLOW_MLFLOW_URI name Services of
    the namespace, on ports those Services expose."""
    (worker,) = workloads(manifests)["prefect-worker"]["spec"]["template"]["spec"]["containers"]
    env = {v["name"]: v.get("value") for v in worker["env"]}
    services = {
        doc["metadata"]["name"]: {port["port"] for port in doc["spec"]["ports"]}
        for _, doc in manifests
        if doc["kind"] == "Service"
    }
    for variable, scheme, service, port in (
        ("DASK_SCHEDULER_ADDRESS", "tcp", "dask-scheduler", 8786),
        ("TRIALFLOW_MLFLOW_URI", "http", "mlflow", 5000),
    ):
        assert env[variable] == f"{scheme}://{service}:{port}", variable
        assert port in services[service], (variable, services[service])


def test_kubernetes_workers(manifests):
    found = workloads(manifests)
    cpu = found["dask-worker-cpu"]
    gpu = found["dask-worker-gpu"]
    assert cpu["spec"]["replicas"] == 2
    for worker in (cpu, gpu):
        (container,) = worker["spec"]["template"]["spec"]["containers"]
        args = argv(container)
        assert args[:3] == ["dask", "worker", SCHEDULER]
        assert flag_value(args, "--nthreads") == "1"
        assert container["resources"]["limits"]["memory"]
    (cpu_container,) = cpu["spec"]["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" not in cpu_container["resources"]["limits"]
    assert "--resources" not in argv(cpu_container)
    gpu_spec = gpu["spec"]["template"]["spec"]
    (gpu_container,) = gpu_spec["containers"]
    assert int(gpu_container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    assert flag_value(argv(gpu_container), "--resources") == "GPU=1"
    assert gpu_container["image"].startswith("trialflow-gpu:")
    assert gpu_spec["nodeSelector"] and gpu_spec["tolerations"]


def test_kubernetes_prefect_and_mlflow(manifests):
    found = workloads(manifests)
    (worker,) = found["prefect-worker"]["spec"]["template"]["spec"]["containers"]
    assert flag_value(argv(worker), "--pool") == deployment_pool()
    env = {v["name"]: v.get("value") for v in worker["env"]}
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert_server_variables(env)
    (mlflow,) = found["mlflow"]["spec"]["template"]["spec"]["containers"]
    env = {v["name"]: v.get("value") for v in mlflow["env"]}
    assert "mlflow:5000" in env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert "@postgres:5432/mlflow" in env["MLFLOW_BACKEND_STORE_URI"]


# --- Dask cluster specs ----------------------------------------------------------------


def test_jobqueue_cpu_and_gpu_jobs():
    config = yaml.safe_load((INFRA / "dask" / "jobqueue.yaml").read_text())["jobqueue"]
    cpu, gpu = config["slurm"], config["slurm-gpu"]
    # One thread per worker process, as trialflow sizes its trials.
    assert cpu["cores"] == cpu["processes"]
    assert cpu["memory"] and cpu["walltime"]
    # dask-jobqueue reads a named section without falling back to `slurm`: it needs every key.
    assert set(cpu) <= set(gpu)
    assert "--gres=gpu:1" in gpu["job-extra-directives"]
    args = gpu["worker-extra-args"]
    assert args[args.index("--resources") + 1] == "GPU=1"
    assert "--resources" not in cpu["worker-extra-args"]


def test_dask_operator_cluster_has_a_gpu_worker_group():
    cluster, group = load_all(INFRA / "dask" / "kubernetes-cluster.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")
    assert group["kind"] == "DaskWorkerGroup"
    assert group["spec"]["cluster"] == cluster["metadata"]["name"]
    (cpu,) = cluster["spec"]["worker"]["spec"]["containers"]
    (scheduler,) = cluster["spec"]["scheduler"]["spec"]["containers"]
    (gpu,) = group["spec"]["worker"]["spec"]["containers"]
    for container in (cpu, scheduler, gpu):
        assert pinned(container["image"]), container["image"]
    assert argv(scheduler)[:2] == ["dask", "scheduler"]
    assert argv(cpu)[:2] == ["dask", "worker"] and flag_value(argv(cpu), "--nthreads") == "1"
    assert "--resources" not in argv(cpu)
    assert flag_value(argv(gpu), "--resources") == "GPU=1"
    assert int(gpu["resources"]["limits"]["nvidia.com/gpu"]) >= 1


# --- Dockerfile ------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of infra/Dockerfile, continuation lines joined."""
    instructions, pending = [], ""
    for line in (INFRA / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def dockerfile_uid() -> int:
    user = [rest for keyword, rest in dockerfile() if keyword == "USER"][-1]
    return int(user.split(":")[0])


def test_dockerfile_images_are_pinned_and_stages_resolve():
    instructions = dockerfile()
    stages, variants = set(), set()
    for keyword, rest in instructions:
        if keyword == "ARG" and rest.startswith("VARIANT="):
            variants.add(rest.split("=", 1)[1])
        if keyword != "FROM":
            continue
        image, *alias = rest.split(" AS ")
        image = image.strip()
        if image.startswith("base-${VARIANT}"):
            assert {f"base-{v}" for v in ("cpu", "gpu")} <= stages
        else:
            assert pinned(image), f"unpinned base image {image}"
        stages.update(a.strip() for a in alias)
    assert variants == {"cpu"}, "VARIANT must default to cpu"
    copied_from = [
        m
        for keyword, rest in instructions
        if keyword == "COPY" and (m := re.match(r"--from=(\S+)", rest)) is not None
    ]
    for match in copied_from:
        assert match.group(1) in stages or pinned(match.group(1)), match.group(1)
    assert [rest for keyword, rest in instructions if keyword == "FROM"][0].startswith(
        "python:3.11-slim"
    )


def test_dockerfile_runs_as_a_non_root_user():
    instructions = dockerfile()
    users = [i for i, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    assert users, "no USER instruction"
    final = instructions[users[-1]][1].split(":")[0]
    assert final not in ("root", "0")
    assert dockerfile_uid() > 0
    # Nothing after the last USER runs as root again.
    assert all(keyword != "USER" for keyword, _ in instructions[users[-1] + 1 :])


def test_dockerfile_environment_and_gpu_extra():
    instructions = dockerfile()
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    for setting in (
        "TRIALFLOW_HOME=/data/trialflow",
        "PREFECT_SERVER_ANALYTICS_ENABLED=false",
        "DO_NOT_TRACK=1",
        "TRIALFLOW_REPO=/opt/trialflow",
    ):
        assert setting in env.split(), setting
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any("cupy" in requirement for requirement in extras["gpu"])
    assert 'target=".[gpu]"' in runs and 'target="."' in runs
    assert 'pip install "$target"' in runs
