"""SkillManager: finds pydantic-deep skills in the configured directories and hands them to tasks.

Skills are folders holding a ``SKILL.md`` (YAML frontmatter + markdown
instructions) in pydantic-deep's format. Parsing is pydantic-deep's own
(``SkillsDirectory``); this module decides which directories are searched,
which skill wins when two share a name, and turns a task's
``required_skills`` into the ``Skill`` objects ``create_deep_agent(skills=...)``
takes, or a clear ``SkillNotFoundError``.

Search order: the skills bundled with deeptui (package ``deeptui.skills``),
then each configured directory in order; a later directory overrides an
earlier one, so user skills override bundled skills of the same name.
"""

from __future__ import annotations

import importlib.resources
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from deeptui.errors import SkillNotFoundError

logger = logging.getLogger(__name__)

BUNDLED_PACKAGE = "deeptui.skills"


class SkillDirectory(BaseModel):
    """One place to look for skills: ``{"path": "~/skills", "recursive": True}``.

    ``recursive=True`` finds ``SKILL.md`` files at any depth below ``path``;
    ``recursive=False`` only ``path/SKILL.md`` and ``path/<skill>/SKILL.md``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    recursive: bool = True

    @field_validator("path", mode="before")
    @classmethod
    def _expand_user(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            return Path(value).expanduser()
        return value

    @property
    def max_depth(self) -> int | None:
        """The depth limit pydantic-deep's ``SkillsDirectory`` is given."""
        return None if self.recursive else 1

    @classmethod
    def coerce(cls, spec: SkillDirectory | dict[str, Any] | str | Path) -> SkillDirectory:
        """Accept the orchestration guide's dict form, a bare path, or an instance."""
        if isinstance(spec, SkillDirectory):
            return spec
        if isinstance(spec, str | Path):
            return cls(path=spec)
        if isinstance(spec, dict):
            return cls.model_validate(spec)
        raise TypeError(
            "skill_directories: each entry must be a path or a mapping like "
            f"{{'path': '~/skills', 'recursive': True}}, got {type(spec).__name__}"
        )


def bundled_skills_dir() -> Path | None:
    """The folder of skills shipped with deeptui, or None if not on the filesystem."""
    root = importlib.resources.files(BUNDLED_PACKAGE)
    path = Path(str(root))
    return path if path.is_dir() else None


def _skill_files(root: Path, max_depth: int | None) -> list[Path]:
    """The SKILL.md files below ``root`` within ``max_depth`` folder levels, sorted."""
    if max_depth is None:
        return sorted(root.glob("**/SKILL.md"))
    patterns = ["/".join(["*"] * depth + ["SKILL.md"]) for depth in range(max_depth + 1)]
    return sorted(file for pattern in patterns for file in root.glob(pattern))


class SkillManager:
    """The skills available to a run, discovered lazily on first use."""

    def __init__(
        self,
        skill_directories: Iterable[SkillDirectory | dict[str, Any] | str | Path] | None = None,
        *,
        include_bundled: bool = True,
    ) -> None:
        self.directories: list[SkillDirectory] = [
            SkillDirectory.coerce(spec) for spec in (skill_directories or [])
        ]
        self.include_bundled = include_bundled
        self._skills: dict[str, Any] | None = None  # name -> pydantic_deep Skill
        self._bundled_names: set[str] = set()
        self.problems: list[str] = []
        """Warnings from the last discovery (missing folders, invalid SKILL.md files)."""

    # -- discovery -----------------------------------------------------------

    def discover_skills(self) -> int:
        """(Re-)scan every directory; return the number of distinct skills found."""
        self.problems = []
        found: dict[str, Any] = {}
        self._bundled_names = set()
        if self.include_bundled:
            bundled = bundled_skills_dir()
            if bundled is None:
                self._problem(f"bundled skills of package {BUNDLED_PACKAGE!r} are not a folder")
            else:
                for skill in self._scan(SkillDirectory(path=bundled, recursive=False)):
                    found[skill.name] = skill
                    self._bundled_names.add(skill.name)
        for directory in self.directories:
            for skill in self._scan(directory):
                if skill.name in found:
                    logger.info(
                        "skill %r from %s overrides %s", skill.name, skill.uri, found[skill.name].uri
                    )
                found[skill.name] = skill
                self._bundled_names.discard(skill.name)
        self._skills = found
        logger.debug("discovered %d skills: %s", len(found), sorted(found))
        return len(found)

    def _scan(self, directory: SkillDirectory) -> list[Any]:
        """Skills of one directory, via pydantic-deep; problems are logged, never raised."""
        from pydantic_deep.features.skills import SkillValidationError

        path = directory.path
        if not path.exists():
            self._problem(f"skill directory {str(path)!r} does not exist; ignored")
            return []
        if not path.is_dir():
            self._problem(f"skill directory {str(path)!r} is not a folder; ignored")
            return []
        try:
            return self._load(path, directory.max_depth)
        except (SkillValidationError, OSError) as exc:
            # One broken SKILL.md aborts pydantic-deep's scan of the whole
            # folder: load the folder's skills one by one to keep the good ones.
            logger.debug("rescanning %s skill by skill after: %s", path, exc)
        skills: list[Any] = []
        for skill_file in _skill_files(path, directory.max_depth):
            try:
                skills.extend(self._load(skill_file.parent, 0))
            except (SkillValidationError, OSError) as exc:
                self._problem(f"skipped invalid skill {str(skill_file)!r}: {exc}")
        return skills

    def _load(self, path: Path, max_depth: int | None) -> list[Any]:
        """pydantic-deep's SkillsDirectory scan, its warnings turned into logged problems."""
        from pydantic_deep.features.skills import SkillsDirectory

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            source = SkillsDirectory(path=path, validate=True, max_depth=max_depth)
        for warning in caught:
            self._problem(f"{path}: {warning.message}")
        return sorted(source.skills.values(), key=lambda skill: skill.uri or "")

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        logger.warning(message)

    @property
    def _by_name(self) -> dict[str, Any]:
        if self._skills is None:
            self.discover_skills()
        assert self._skills is not None
        return self._skills

    # -- queries ---------------------------------------------------------------

    def skill_names(self) -> list[str]:
        """Names of every available skill, sorted."""
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def get_all_skills(self) -> list[dict[str, Any]]:
        """Every skill as a plain dict (see ``get_skill``), sorted by name."""
        return [self._describe(self._by_name[name]) for name in self.skill_names()]

    def get_skill(self, name: str) -> dict[str, Any] | None:
        """One skill as a dict: name, description, tags, version, path, bundled, ...; or None."""
        skill = self._by_name.get(name)
        return None if skill is None else self._describe(skill)

    def _describe(self, skill: Any) -> dict[str, Any]:
        metadata = dict(skill.metadata or {})
        tags = metadata.pop("tags", None) or []
        if isinstance(tags, str):
            tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
        elif not isinstance(tags, list | tuple):  # `tags: 5` or `tags: true` in the frontmatter
            tags = [tags]
        version = metadata.pop("version", None)
        return {
            "name": skill.name,
            "description": skill.description,
            "tags": [str(tag) for tag in tags],
            "version": None if version is None else str(version),
            "path": skill.uri,
            "bundled": skill.name in self._bundled_names,
            "license": skill.license,
            "compatibility": skill.compatibility,
            "resources": [resource.name for resource in skill.resources],
            "metadata": metadata,
        }

    def get_skill_summary(self, width: int = 100) -> str:
        """A short text listing the skills: a count, then one line per skill (name, where it
        comes from, its description cut to fit ``width``), then any discovery problems."""
        skills = self.get_all_skills()
        if not skills:
            searched = ", ".join(str(d.path) for d in self.directories) or "no directories"
            lines = [f"No skills available (searched: {searched})."]
        else:
            lines = [f"{len(skills)} skill{'s' if len(skills) != 1 else ''} available:"]
            name_width = max(len(skill["name"]) for skill in skills)
            for skill in skills:
                origin = "[bundled]" if skill["bundled"] else "[yours]"
                head = f"  {skill['name']:<{name_width}}  {origin:<9}  "
                description = " ".join(str(skill["description"] or "").split())
                room = max(width - len(head), 10)
                if len(description) > room:
                    description = description[: room - 3].rstrip() + "..."
                lines.append(head + description)
        lines += [f"  ! {problem}" for problem in self.problems]
        return "\n".join(lines)

    # -- what tasks use --------------------------------------------------------

    def require(self, names: Iterable[str], task_id: str | None = None) -> list[Any]:
        """The pydantic-deep ``Skill`` objects for ``names`` (duplicates dropped, order kept).

        Raises SkillNotFoundError (a ValueError) naming the first missing skill,
        the available ones and, when given, the task that requires it.
        """
        skills: list[Any] = []
        seen: set[str] = set()
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            skill = self._by_name.get(name)
            if skill is None:
                raise self._not_found(name, task_id)
            skills.append(skill)
        return skills

    def _not_found(self, name: str, task_id: str | None) -> SkillNotFoundError:
        message = f"Required skill {name!r} not found. Available skills: {self.skill_names()}"
        if task_id is not None:
            message += f" (required by task {task_id!r})"
        message += (
            f". Add a folder holding {name}/SKILL.md to skill_directories"
            " or remove it from required_skills."
        )
        error = SkillNotFoundError(message)
        error.skill_name = name  # type: ignore[attr-defined]
        error.task_id = task_id  # type: ignore[attr-defined]
        return error

    def skills_for(self, names: Iterable[str]) -> list[Any]:
        """Skills to pass as ``create_deep_agent(skills=...)``; raises like ``require``."""
        return self.require(names)

    def instructions_for(self, names: Iterable[str]) -> str:
        """The skills' full instructions as one prompt block ("" for no skills).

        For an agent built without these skills (a user-supplied agent): pass it
        as ``agent.run(prompt, instructions=...)`` or prepend it to the prompt.
        """
        blocks = [
            f'<skill name="{skill.name}">\n'
            f"<description>{skill.description}</description>\n"
            f"{skill.content.strip()}\n"
            "</skill>"
            for skill in self.require(names)
        ]
        if not blocks:
            return ""
        header = "Apply the following skills while you carry out the task.\n\n"
        return header + "\n\n".join(blocks)

    def __repr__(self) -> str:
        state = "not yet discovered" if self._skills is None else f"{len(self._skills)} skills"
        dirs = [str(d.path) for d in self.directories]
        return f"SkillManager(directories={dirs}, {state})"
