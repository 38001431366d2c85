"""The orchestration guide's ``pydantic_deep.types`` names, importable as ``deeptui.types``."""

from deeptui.skills_manager import SkillDirectory  # noqa: F401
