"""Skills in workflows: tasks name the skills they need and their agents get them.

Shows, in order:
  1. skill discovery and management: the bundled skills plus a project folder
     (examples/project-skills/release-notes), listed, looked up, summarised
  2. skill integration with a workflow: the guide's quality pipeline, several tasks each
     using a different skill, one task using three, and which skills each agent loaded
  3. a required skill that does not exist: refused before anything runs

Run it:
    python examples/orchestration_with_skills_example.py                 # offline model
    python examples/orchestration_with_skills_example.py --model openai:gpt-4o-mini
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pydantic_ai.models import Model

from deeptui import (
    AgentCapability,
    DeeptuiError,
    ExecutionStrategy,
    OrchestrationConfig,
    SkillNotFoundError,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
    resolve_model,
)

PROJECT_SKILLS = Path(__file__).resolve().parent / "project-skills"
OFFLINE = OrchestrationConfig(simulated_latency=(0.05, 0.25), simulated_seed=7)


def chosen_model() -> Model | None:
    """The model --model or DEEPTUI_MODEL names, or None for the offline model. Resolved
    now, so a bad name or a missing API key is one clear line before anything runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("DEEPTUI_MODEL"),
                        help="a pydantic-ai model, e.g. openai:gpt-4o-mini "
                             "(default: $DEEPTUI_MODEL, else the offline model)")
    name = parser.parse_args().model
    return resolve_model(name) if name else None


def heading(title: str) -> None:
    print(f"\n=== {title} ===")


def quality_pipeline() -> WorkflowDefinition:
    return WorkflowDefinition(
        id="quality-pipeline",
        name="Code Quality Pipeline",
        execution_strategy=ExecutionStrategy.DAG,
        tasks=[
            TaskDefinition(id="api-design", description="Design RESTful API",
                           required_skills=["api-design"]),
            TaskDefinition(id="implementation", description="Implement the API",
                           depends_on=["api-design"],
                           required_capabilities=[AgentCapability.CODE_GENERATION]),
            TaskDefinition(id="code-review", description="Review implementation quality",
                           depends_on=["implementation"], required_skills=["python-code-review"]),
            TaskDefinition(id="test-strategy", description="Design test strategy",
                           depends_on=["implementation"], required_skills=["test-strategy"]),
            TaskDefinition(id="comprehensive-review", description="Full code quality review",
                           depends_on=["implementation"],
                           required_skills=["python-code-review", "security-audit",
                                            "performance-analysis"]),
            # a skill of this project, from examples/project-skills
            TaskDefinition(id="release-notes", description="Write the release notes",
                           depends_on=["code-review", "test-strategy", "comprehensive-review"],
                           required_skills=["release-notes"]),
        ],
    )


def skills_loaded(orchestrator: TaskOrchestrator, workflow_id: str,
                  task: TaskDefinition) -> list[str]:
    """The task's skills its agent loaded, read from the task's log (its load_skill calls)."""
    calls = [text for _, kind, text in orchestrator.get_task_log(workflow_id, task.id)
             if kind == "tool_call" and text.startswith("load_skill(")]
    return [name for name in task.required_skills if any(f'"{name}"' in call for call in calls)]


async def main(model: Model | None) -> None:
    print(f"Model: {model.model_name if model else 'offline (SimulatedModel)'}")
    orchestrator = TaskOrchestrator(
        config=OFFLINE,
        model=model,
        skill_directories=[
            {"path": "~/.pydantic-deep/skills", "recursive": True},  # yours, if you keep any
            {"path": PROJECT_SKILLS, "recursive": False},
        ],
    )

    heading("1. Skill discovery and management")
    count = orchestrator.skill_manager.discover_skills()
    print(f"Discovered {count} skills")
    print(orchestrator.skill_manager.get_skill_summary())
    skill = orchestrator.skill_manager.get_skill("python-code-review")
    print(f"python-code-review: tags {skill['tags']}, version {skill['version']}, "
          f"bundled: {skill['bundled']}")
    own = orchestrator.skill_manager.get_skill("release-notes")
    print(f"release-notes comes from {Path(own['path']).parent.name}/ (bundled: {own['bundled']})")

    heading("2. A workflow whose tasks use skills")
    workflow = quality_pipeline()
    result = await orchestrator.execute_workflow(workflow)  # skills are loaded as tasks run
    print(f"Workflow status: {result.status}")
    for task in workflow.tasks:
        required = ", ".join(task.required_skills) or "no skill"
        loaded = ", ".join(skills_loaded(orchestrator, workflow.id, task)) or "none"
        print(f"  {task.id:21} needs {required}; its agent loaded {loaded}")
    answer = str(result.task_results["release-notes"].output).strip().splitlines()
    print(f"release-notes answered (last line): {answer[-1][:80] if answer else ''}")

    heading("3. A skill nobody provides")
    missing = WorkflowDefinition(id="missing-skill", tasks=[
        TaskDefinition(id="sql-review", description="Review the SQL queries",
                       required_skills=["sql-tuning"]),
    ])
    try:
        await orchestrator.execute_workflow(missing)
    except SkillNotFoundError as error:  # a ValueError, raised before any task starts
        print(f"Refused before running: {error}")


if __name__ == "__main__":
    try:
        model = chosen_model()
    except DeeptuiError as error:  # a bad model name, a missing key: one line, no traceback
        sys.exit(f"error: {error}")
    asyncio.run(main(model))
