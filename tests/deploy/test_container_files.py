"""The Dockerfile, compose.yaml and .env.example, checked by parsing them (no container engine runs here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def setting_names() -> list[str]:
    names = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.append(str(alias.choices[0]) if isinstance(alias, AliasChoices) else str(alias))
    return names


def test_dockerfile_is_slim_311_non_root_with_healthcheck_and_exec_cmd() -> None:
    steps = instructions()
    kinds = [kind for kind, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for kind, args in steps if kind == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    assert kinds.index("USER") < kinds.index("CMD")
    [health] = [args for kind, args in steps if kind == "HEALTHCHECK"]
    exec_form = json.loads(health.split("CMD", 1)[1])
    assert isinstance(exec_form, list) and "/healthz" in " ".join(exec_form)
    [cmd] = [args for kind, args in steps if kind == "CMD"]
    assert json.loads(cmd) == ["python", "app.py"], "exec form: python is PID 1 and gets SIGTERM"
    secret_names = ("PASSWORD", "SECRET", "TOKEN", "KEY")
    for kind, args in steps:
        if kind in ("ENV", "ARG"):
            assert not any(name in args.upper() for name in secret_names), f"a secret in {kind} {args}"
        if kind in ("COPY", "ADD"):
            assert ".env" not in args
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored and ".git" in ignored


def test_compose_runs_redis_with_aof_two_webs_two_workers_behind_one_port() -> None:
    services = compose()["services"]
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--appendfsync everysec" in redis_command
    assert services["redis"]["volumes"], "AOF on a volume survives the container"
    for role in ("web", "worker"):
        assert services[role]["command"] == ["python", "app.py", role]
        assert services[role]["deploy"]["replicas"] == 2
        assert services[role]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert services[role]["env_file"][0]["path"] == ".env"
        assert "ports" not in services[role], "replicas are reached through the proxy only"
    published = [(name, port) for name, service in services.items() if "profiles" not in service
                 for port in service.get("ports", [])]
    assert len(published) == 1 and published[0][0] == "proxy"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "server web:3978" in nginx and "location = /metrics" in nginx


def test_the_tryout_profile_binds_loopback_and_carries_no_tenant_settings() -> None:
    tryout = compose()["services"]["tryout"]
    assert tryout["profiles"] == ["tryout"]
    assert tryout["environment"]["HOST"] == "127.0.0.1"
    assert tryout["network_mode"] == "host", "a published port cannot reach a container's loopback"
    assert "env_file" not in tryout and "ports" not in tryout
    settings = Settings(_env_file=None, **tryout["environment"])
    assert settings.local_mode and settings.startup_problem() is None


def test_env_example_lists_every_setting_with_no_secret_values(tmp_path: Path) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    values = dict(re.findall(r"^#? ?([A-Za-z_]+)=(.*)$", text, re.MULTILINE))
    missing = [name for name in setting_names() if name not in values]
    assert not missing, f".env.example lacks {missing}"
    for secret in ("MicrosoftAppPassword", "GRAPH_CLIENT_SECRET", "RIPOSTE_ALERT_TOKEN", "RIPOSTE_SIGNING_KEY",
                   "RIPOSTE_AUDIT_KEY"):
        assert values[secret] == "", f"{secret} has a value in .env.example"
    (tmp_path / ".env").write_text(text, encoding="utf-8")
    Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]  # the file as given parses
