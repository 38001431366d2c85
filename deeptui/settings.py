"""User settings: a TOML file in the user's config directory, every setting also a flag.

Precedence: command-line flag > environment (``DEEPTUI_MODEL``) > config file
> default. Data (history database, disk cache) lives in the user's data and
cache directories unless a setting points elsewhere. The app saves the chosen theme
by editing the file in place (comments and other keys kept).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deeptui.errors import DeeptuiError


class SettingsError(DeeptuiError):
    """A config file that cannot be read or has a bad value."""


def config_path() -> Path:
    """``$DEEPTUI_CONFIG`` if set, else ``<user config dir>/deeptui/config.toml``."""
    override = os.environ.get("DEEPTUI_CONFIG")
    return Path(override) if override else Path(user_config_dir("deeptui")) / "config.toml"


class Settings(BaseModel):
    """Everything a user can set. Field descriptions are the flags' help texts."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str | None = Field(
        default=None, description="pydantic-ai model, e.g. 'openai:gpt-4o'; none = offline model")
    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0,
                             description="offline model: probability that a call fails")
    latency_min: float = Field(default=0.2, ge=0.0, description="offline model: min latency (s)")
    latency_max: float = Field(default=1.5, ge=0.0, description="offline model: max latency (s)")
    seed: int | None = Field(default=None, description="offline model: random seed")
    cache: str = Field(default="hybrid", pattern="^(memory|disk|hybrid|none)$",
                       description="result cache: memory, disk, hybrid or none")
    cache_dir: str | None = Field(default=None, description="disk cache directory")
    cache_ttl: float | None = Field(default=None, gt=0, description="cache time to live (s)")
    cache_max_size: int = Field(default=1000, ge=1, description="cache entries kept in memory")
    db: str | None = Field(default=None, description="run history database (SQLite file)")
    db_retry: float = Field(default=30.0, ge=0.0,
                            description="how long a run's end keeps retrying to save to a locked "
                                        "or full history database before it gives up (s)")
    store_env: str = Field(default="mask", pattern="^(mask|keep)$",
                           description="tasks' parameters.env values in the history and its "
                                       "exports: mask (default) or keep")
    max_parallel: int | None = Field(default=None, ge=1,
                                     description="override every workflow's max_parallel_tasks")
    skill_dirs: list[str] = Field(default_factory=list, description="extra skill directories")
    keep_runs: int = Field(default=50, ge=1,
                           description="finished runs kept in memory (all stay in the history)")
    theme: str = Field(default="textual-dark", description="the app's Textual theme")
    approvals: str = Field(
        default="ask", pattern="^(ask|never|always)$",
        description="in the app, commands an agent wants to run: ask (wait for your key), never "
                    "(denied) or always (approved); headless runs answer with --approve")
    cluster: str | None = Field(
        default=None,
        description="run tasks' bodies on a Dask cluster: tcp://HOST:8786 (a running "
                    "scheduler), local or local:N (N worker processes); needs deeptui[dask]")
    keymap: dict[str, str] = Field(
        default_factory=dict, description="binding id -> key, e.g. {cancel_task = 'x'}")

    @field_validator("cluster")
    @classmethod
    def _known_cluster(cls, value: str | None) -> str | None:
        if value:
            from deeptui.cluster.target import FORMS, parse_target

            try:
                parse_target(value)
            except DeeptuiError:
                raise ValueError(f"not a cluster; use {FORMS}") from None
        return value

    def cache_config(self) -> Any:
        from deeptui.cache import CacheConfig

        return CacheConfig(strategy=self.cache, cache_dir=self.cache_dir,
                           ttl_seconds=self.cache_ttl, max_size=self.cache_max_size)

    def orchestration_config(self, *, interactive: bool = False) -> Any:
        from deeptui.models import OrchestrationConfig

        return OrchestrationConfig(
            model=self.model,
            simulated_latency=(min(self.latency_min, self.latency_max), self.latency_max),
            simulated_fail_rate=self.fail_rate,
            simulated_seed=self.seed,
            keep_finished_runs=self.keep_runs,
            # headless, nobody can answer "ask" (the task would wait for ever): see --approve
            approvals=self.approvals if interactive else "never",
        )


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (if any), then apply ``DEEPTUI_MODEL`` and ``overrides``.

    ``overrides`` with the value None are ignored (an unset flag).
    """
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    from_env = {"model": os.environ["DEEPTUI_MODEL"]} if os.environ.get("DEEPTUI_MODEL") else {}
    try:
        return Settings(**{**data, **from_env, **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        first["msg"] = first["msg"].removeprefix("Value error, ")
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        name = str(first["loc"][0]) if first["loc"] else ""
        # say where the bad value came from: a flag, the environment or the file
        if name in given:
            flag = "--" + name.replace("_", "-")
            raise SettingsError(f"{flag} {given[name]}: {first['msg']}") from None
        if name in from_env:
            raise SettingsError(f"DEEPTUI_MODEL: {first['msg']}") from None
        raise SettingsError(f"{path}: setting '{field}': {first['msg']}") from None


def save_theme(name: str, path: Path | None = None) -> Path:
    """Set ``theme`` in the config file, edited in place: its comments, layout and other
    keys stay as they are (the session's settings also hold command-line flags, which
    must not become permanent)."""
    import tomlkit

    path = path or config_path()
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    document["theme"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


def build_orchestrator(settings: Settings, *, store: Any = None, bus: Any = None,
                       interactive: bool = False) -> Any:
    """The orchestrator the CLI and the app use: settings' model, cache and skills
    (``interactive``: a person watches, the app, so approvals are asked by default)."""
    from deeptui.orchestrator import TaskOrchestrator

    orchestrator = TaskOrchestrator(
        config=settings.orchestration_config(interactive=interactive),
        cache_config=settings.cache_config(),
        skill_directories=[{"path": d, "recursive": True} for d in settings.skill_dirs] or None,
        store=store,
        bus=bus,
    )
    if settings.cluster:  # task bodies run on a Dask cluster (deeptui.cluster)
        from deeptui.cluster import use_cluster

        try:
            use_cluster(orchestrator, settings.cluster)
        except BaseException:
            orchestrator.close()
            raise
    return orchestrator
