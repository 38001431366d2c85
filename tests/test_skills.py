"""SkillManager: bundled skills, user directories, overrides, errors, and the deep agent."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pydantic_deep
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_deep.features.skills import Skill, SkillsToolset

from deeptui.errors import SkillNotFoundError
from deeptui.skills_manager import SkillDirectory, SkillManager, bundled_skills_dir

BUNDLED = ["api-design", "performance-analysis", "python-code-review", "security-audit", "test-strategy"]

AGENT_OPTIONS = dict(
    include_memory=False,
    web_search=False,
    web_fetch=False,
    include_history_archive=False,
    cost_tracking=False,
)


def write_skill(folder: Path, name: str, description: str = "A test skill", body: str = "Do it well.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(
        f'---\nname: {name}\ndescription: "{description}"\ntags: [test, extra]\nversion: "2.0.0"\n---\n\n'
        f"# {name}\n\n{body}\n",
        encoding="utf-8",
    )
    return folder


def test_the_five_bundled_skills_are_discovered_with_descriptions_and_tags() -> None:
    manager = SkillManager()
    assert manager.discover_skills() == 5
    assert manager.skill_names() == BUNDLED
    for info in manager.get_all_skills():
        assert len(info["description"]) > 40
        assert info["tags"] and all(isinstance(tag, str) for tag in info["tags"])
        assert info["version"] == "1.0.0"
        assert info["bundled"] is True
        assert Path(info["path"]).name == info["name"]  # name matches its folder


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_skill_files_are_substantial_instructions(name: str) -> None:
    skill_md = bundled_skills_dir() / name / "SKILL.md"
    lines = skill_md.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "---"
    assert 60 <= len(lines) <= 150
    (skill,) = SkillManager().skills_for([name])
    assert "## How to report" in skill.content or "## How to report the" in skill.content


def test_discovery_is_lazy_and_discover_skills_rescans(tmp_path: Path) -> None:
    manager = SkillManager([tmp_path])
    assert "not yet discovered" in repr(manager)
    assert "python-code-review" in manager  # first use triggers discovery
    write_skill(tmp_path / "late-skill", "late-skill")
    assert "late-skill" not in manager.skill_names()
    assert manager.discover_skills() == 6
    assert "late-skill" in manager.skill_names()


def test_a_user_directory_adds_its_skills(tmp_path: Path) -> None:
    write_skill(tmp_path / "sql-tuning", "sql-tuning", "Tune slow SQL queries")
    manager = SkillManager([{"path": str(tmp_path), "recursive": False}])
    assert manager.skill_names() == sorted([*BUNDLED, "sql-tuning"])
    info = manager.get_skill("sql-tuning")
    assert info is not None
    assert info["description"] == "Tune slow SQL queries"
    assert info["tags"] == ["test", "extra"]
    assert info["version"] == "2.0.0"
    assert info["bundled"] is False
    assert Path(info["path"]) == (tmp_path / "sql-tuning").resolve()


def test_a_user_skill_overrides_the_bundled_skill_of_the_same_name(tmp_path: Path) -> None:
    write_skill(tmp_path / "python-code-review", "python-code-review", "Our house review rules", "Use tabs.")
    manager = SkillManager([tmp_path])
    assert len(manager) == 5
    info = manager.get_skill("python-code-review")
    assert info["description"] == "Our house review rules"
    assert info["bundled"] is False
    (skill,) = manager.skills_for(["python-code-review"])
    assert "Use tabs." in skill.content


def test_a_later_directory_overrides_an_earlier_one(tmp_path: Path) -> None:
    write_skill(tmp_path / "global" / "style", "style", "global style")
    write_skill(tmp_path / "project" / "style", "style", "project style")
    manager = SkillManager([tmp_path / "global", tmp_path / "project"])
    assert manager.get_skill("style")["description"] == "project style"


def test_recursive_directories_find_nested_skills_and_flat_ones_do_not(tmp_path: Path) -> None:
    write_skill(tmp_path / "top-level", "top-level")
    write_skill(tmp_path / "backend" / "python" / "deep-skill", "deep-skill")
    recursive = SkillManager([{"path": tmp_path, "recursive": True}])
    flat = SkillManager([{"path": tmp_path, "recursive": False}])
    assert {"top-level", "deep-skill"} <= set(recursive.skill_names())
    assert "top-level" in flat.skill_names()
    assert "deep-skill" not in flat.skill_names()


def test_a_missing_directory_is_ignored_with_a_logged_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    manager = SkillManager([{"path": "~/.pydantic-deep/skills", "recursive": True}])
    assert manager.directories[0].path == tmp_path / ".pydantic-deep" / "skills"  # ~ expanded
    with caplog.at_level(logging.WARNING, logger="deeptui.skills_manager"):
        assert manager.discover_skills() == 5
    assert "does not exist" in caplog.text
    assert str(tmp_path / ".pydantic-deep" / "skills") in caplog.text
    assert manager.problems and "does not exist" in manager.problems[0]


def test_home_directory_skills_are_found_through_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_skill(tmp_path / ".pydantic-deep" / "skills" / "mine", "mine")
    assert "mine" in SkillManager([{"path": "~/.pydantic-deep/skills", "recursive": True}]).skill_names()


def test_a_broken_skill_file_is_skipped_without_raw_python_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_skill(tmp_path / "good-skill", "good-skill")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "SKILL.md").write_text("---\nname: [unclosed\n---\nbody\n", encoding="utf-8")
    write_skill(tmp_path / "Bad_Name", "Bad_Name")  # pydantic-deep's validator warns about it
    with warnings.catch_warnings(record=True) as raw, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        manager = SkillManager([tmp_path])
        names = manager.skill_names()
    assert "good-skill" in names
    assert raw == []
    assert any("broken" in problem for problem in manager.problems)
    assert any("Bad_Name" in problem for problem in manager.problems)
    assert "broken" in caplog.text


def test_a_missing_required_skill_raises_the_guide_error_message() -> None:
    manager = SkillManager()
    with pytest.raises(ValueError) as caught:
        manager.require(["python-code-review", "nonexistent-skill"])
    assert isinstance(caught.value, SkillNotFoundError)
    assert (
        "Required skill 'nonexistent-skill' not found. Available skills: "
        "['api-design', 'performance-analysis', 'python-code-review', 'security-audit', 'test-strategy']"
    ) in str(caught.value)


def test_the_missing_skill_error_names_the_task() -> None:
    with pytest.raises(SkillNotFoundError, match=r"required by task 'code-review'") as caught:
        SkillManager().require(["nonexistent-skill"], task_id="code-review")
    assert str(caught.value).startswith("Required skill 'nonexistent-skill' not found. Available skills: [")


def test_get_skill_returns_a_dict_or_none() -> None:
    manager = SkillManager()
    info = manager.get_skill("security-audit")
    assert info is not None
    assert {"name", "description", "tags", "path", "version"} <= set(info)
    assert info["name"] == "security-audit"
    assert "security" in info["tags"]
    assert manager.get_skill("nonexistent-skill") is None


def test_require_keeps_order_and_drops_duplicates() -> None:
    skills = SkillManager().require(["test-strategy", "api-design", "test-strategy"])
    assert all(isinstance(skill, Skill) for skill in skills)
    assert [skill.name for skill in skills] == ["test-strategy", "api-design"]


def test_instructions_for_joins_the_skills_instructions() -> None:
    manager = SkillManager()
    text = manager.instructions_for(["api-design", "security-audit"])
    assert '<skill name="api-design">' in text and '<skill name="security-audit">' in text
    assert "# API Design" in text and "# Security Audit" in text
    assert text.index("# API Design") < text.index("# Security Audit")
    assert manager.instructions_for([]) == ""


def test_skill_directory_accepts_the_guide_forms() -> None:
    assert SkillDirectory.coerce({"path": "./project-skills", "recursive": False}).max_depth == 1
    assert SkillDirectory.coerce("~/skills").path == Path("~/skills").expanduser()
    assert SkillDirectory.coerce(Path("x")).recursive is True
    with pytest.raises(TypeError, match="skill_directories"):
        SkillDirectory.coerce(42)  # type: ignore[arg-type]


async def test_skills_for_builds_a_deep_agent_that_runs_with_the_skill() -> None:
    manager = SkillManager()
    agent = pydantic_deep.create_deep_agent(
        model=TestModel(), skills=manager.skills_for(["python-code-review"]), **AGENT_OPTIONS
    )
    (toolset,) = [ts for ts in agent.toolsets if isinstance(ts, SkillsToolset)]
    assert sorted(toolset.skills) == ["python-code-review"]
    result = await agent.run("hi", deps=pydantic_deep.create_default_deps())
    assert isinstance(result.output, str)


async def test_the_agent_sees_the_skill_and_can_load_its_instructions() -> None:
    seen: dict[str, str] = {}

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.setdefault("instructions", info.instructions or "")
        for part in messages[-1].parts:
            if isinstance(part, ToolReturnPart) and part.tool_name == "load_skill":
                return ModelResponse(parts=[TextPart(str(part.content))])
        return ModelResponse(parts=[ToolCallPart("load_skill", {"skill_name": "test-strategy"})])

    agent = pydantic_deep.create_deep_agent(
        model=FunctionModel(model), skills=SkillManager().skills_for(["test-strategy"]), **AGENT_OPTIONS
    )
    result = await agent.run("plan the tests", deps=pydantic_deep.create_default_deps())
    assert "<name>test-strategy</name>" in seen["instructions"]  # listed in the system prompt
    assert "python-code-review" not in seen["instructions"]  # only the required skill
    assert "# Test Strategy" in result.output  # load_skill returned the full instructions


@pytest.mark.parametrize("tags, expected", [
    ("5", ["5"]), ("true", ["True"]), ("[a, 2]", ["a", "2"]), ("'x, y'", ["x", "y"]),
])
def test_skill_tags_of_any_yaml_shape_are_listed(tmp_path: Path, tags: str, expected) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "SKILL.md").write_text(f"---\nname: odd\ndescription: d\ntags: {tags}\n---\nbody\n")
    manager = SkillManager([tmp_path], include_bundled=False)
    assert manager.get_skill("odd")["tags"] == expected
    assert [s["name"] for s in manager.get_all_skills()] == ["odd"]
