"""The ETL pipeline template: parallel extracts, validation, sequential transforms, load, verify.

    extract-csv-0 ─┐
                   ├──► validate-extracted-data ──► transform-step-1 ──► … ──► transform-step-n
    extract-api-1 ─┘                                                                 │
                                           verify-load ◄── load-to-destination ◄─────┘

Extract ids are ``extract-{type}-{idx}`` with ``idx`` the 0-based position of
the source in ``source_configs`` and ``type`` its ``type`` made id-safe;
transform ids are ``transform-step-{n}`` with ``n`` 1-based.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deeptui.models import AgentCapability, TaskDefinition, WorkflowDefinition
from deeptui.workflows.factory import make_workflow, split_kwargs, task_timeout, with_parameters_signature

TEMPLATE = "etl"

# Source types read over the network rather than from files or databases.
_API_TYPES = {"api", "rest", "http", "https", "graphql", "webhook"}


def _default_sources() -> list[dict[str, Any]]:
    return [{"type": "csv", "path": "data.csv"}, {"type": "api", "url": "https://api.example.com/data"}]


def _default_steps() -> list[str]:
    return ["clean nulls", "normalize values", "aggregate by date"]


class ETLParameters(BaseModel):
    """Parameters of the ETL pipeline template."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field("etl-pipeline", min_length=1, description="Id of the workflow (runs are listed under it).")
    source_configs: list[dict[str, Any]] = Field(
        default_factory=_default_sources,
        min_length=1,
        description=(
            "Data sources as a JSON list of objects, each with a 'type' (csv, api, database...) "
            'and its settings, e.g. [{"type": "csv", "path": "data.csv"}]. Extracted in parallel.'
        ),
    )
    transformation_steps: list[str] = Field(
        default_factory=_default_steps,
        description="Transformation steps applied in order, e.g. 'clean nulls'.",
    )
    destination_config: dict[str, Any] = Field(
        default_factory=lambda: {"type": "database", "table": "analytics"},
        description='Where the data goes, as a JSON object, e.g. {"type": "database", "table": "analytics"}.',
    )
    validate_data: bool = Field(True, description="Validate the extracted data before transforming it.")

    @field_validator("source_configs")
    @classmethod
    def _sources_have_types(cls, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for idx, source in enumerate(sources):
            kind = source.get("type")
            if not isinstance(kind, str) or not source_slug(kind):
                raise ValueError(f"source {idx} needs a 'type' such as \"csv\" or \"api\", got {kind!r}")
            _require_json(source, f"source {idx}")
        return sources

    @field_validator("transformation_steps")
    @classmethod
    def _steps_not_blank(cls, steps: list[str]) -> list[str]:
        cleaned = [step.strip() for step in steps]
        for n, step in enumerate(cleaned, start=1):
            if not step:
                raise ValueError(f"step {n} is blank")
        return cleaned

    @field_validator("destination_config")
    @classmethod
    def _destination_json(cls, destination: dict[str, Any]) -> dict[str, Any]:
        _require_json(destination, "the destination")
        return destination


def _require_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON data: {exc}") from None


def source_slug(kind: str) -> str:
    """A source type made safe for a task id: ``"Postgres DB"`` -> ``"postgres-db"``."""
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


def _describe(config: dict[str, Any]) -> str:
    details = ", ".join(f"{k}={v}" for k, v in config.items() if k != "type")
    return f"{config.get('type', 'destination')} ({details})" if details else str(config.get("type", "?"))


@with_parameters_signature(ETLParameters)
def create_etl_pipeline(**kwargs: Any) -> WorkflowDefinition:
    """Extract, transform, load: parallel extracts, validation, ordered transforms, load and verify."""
    params, settings = split_kwargs(TEMPLATE, ETLParameters, kwargs)
    assert isinstance(params, ETLParameters)
    tasks: list[TaskDefinition] = []
    extract_ids = []
    for idx, source in enumerate(params.source_configs):
        slug = source_slug(source["type"])
        task_id = f"extract-{slug}-{idx}"
        extract_ids.append(task_id)
        capability = AgentCapability.API_INTEGRATION if slug in _API_TYPES else AgentCapability.DATA_PROCESSING
        tasks.append(
            TaskDefinition(
                id=task_id,
                description=(
                    f"Extract the records from source {idx}, {_describe(source)}. Report the row "
                    "count, the schema (fields and types) and a sample of the records."
                ),
                required_capabilities=[capability],
                parameters={"source": source, "source_index": idx},
                priority=7,
                timeout_seconds=task_timeout(600, settings),
            )
        )
    previous = extract_ids
    if params.validate_data:
        tasks.append(
            TaskDefinition(
                id="validate-extracted-data",
                description=(
                    f"Validate the data extracted from the {len(extract_ids)} source(s): schema "
                    "conformance, missing and null values, duplicates, out-of-range values. "
                    "Fail if the data cannot be transformed safely."
                ),
                required_capabilities=[AgentCapability.DATA_PROCESSING],
                depends_on=list(extract_ids),
                priority=8,
                timeout_seconds=task_timeout(300, settings),
            )
        )
        previous = ["validate-extracted-data"]
    total = len(params.transformation_steps)
    for n, step in enumerate(params.transformation_steps, start=1):
        task_id = f"transform-step-{n}"
        tasks.append(
            TaskDefinition(
                id=task_id,
                description=(
                    f"Transformation step {n} of {total}: {step}. Apply it to the output of the "
                    "previous step and report the rows in and out and any rows dropped."
                ),
                required_capabilities=[AgentCapability.DATA_PROCESSING],
                depends_on=list(previous),
                parameters={"step": step, "step_number": n},
                priority=6,
                timeout_seconds=task_timeout(600, settings),
            )
        )
        previous = [task_id]
    destination = params.destination_config
    tasks.append(
        TaskDefinition(
            id="load-to-destination",
            description=(
                f"Load the transformed data into {_describe(destination)}, creating or "
                "updating the target as needed; report the rows written."
            ),
            required_capabilities=[AgentCapability.DATA_PROCESSING],
            depends_on=list(previous),
            parameters={"destination": destination},
            priority=7,
            timeout_seconds=task_timeout(900, settings),
        )
    )
    tasks.append(
        TaskDefinition(
            id="verify-load",
            description=(
                f"Verify the load into {_describe(destination)}: row counts match the "
                "transformed data, keys are unique, and a sample of rows reads back unchanged."
            ),
            required_capabilities=[AgentCapability.DATA_PROCESSING],
            depends_on=["load-to-destination"],
            parameters={"destination": destination},
            priority=7,
            timeout_seconds=task_timeout(300, settings),
        )
    )
    sources = ", ".join(source_slug(s["type"]) for s in params.source_configs)
    return make_workflow(
        TEMPLATE,
        params,
        tasks,
        settings,
        name="ETL Pipeline",
        description=f"Extract from {sources}, {total} transformation step(s), load into {_describe(destination)}",
    )
