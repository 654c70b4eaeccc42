"""requirements.lock pins every grading dependency with its hashes, covers pyproject.toml's groups,
and is what the tests run against."""
import re
import tomllib
from importlib import metadata

from packaging.markers import Marker
from packaging.requirements import Requirement

from graders.engine.manifest import KIT

LOCK = KIT / "requirements.lock"


def pins() -> dict[str, tuple[str, str | None, list[str]]]:
    """name: (version, marker, hashes), from the lock's requirement lines and their --hash options."""
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement, *hashes = re.split(r"\s+--hash=", line.strip())
        parsed = Requirement(requirement.strip())
        (version,) = [s.version for s in parsed.specifier if s.operator == "=="]
        found[parsed.name.lower().replace("_", "-")] = (version, str(parsed.marker) if parsed.marker else None,
                                                        hashes)
    return found


def test_every_locked_package_is_pinned_with_its_hashes():
    locked = pins()
    assert locked
    for name, (version, _, hashes) in locked.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_the_lock_covers_the_grading_dependency_groups():
    groups = tomllib.loads((KIT / "pyproject.toml").read_text())["dependency-groups"]
    wanted = [r for group in ("grade", "watch") for r in groups[group] if isinstance(r, str)]
    locked = pins()
    for text in wanted:
        requirement = Requirement(text)
        version, _, _ = locked[requirement.name.lower()]
        assert requirement.specifier.contains(version), (text, version)


def test_the_tests_run_against_the_locked_versions():
    """The test session adds its own packages; none of them may move a grading dependency off its pin."""
    for name, (version, marker, _) in pins().items():
        if marker and not Marker(marker).evaluate():
            continue
        assert metadata.version(name) == version, f"{name} {metadata.version(name)} installed, {version} locked"
