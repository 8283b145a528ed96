"""Reproducible installs: constraints.txt pins every package the project and its dev extra need, at versions that
satisfy pyproject.toml, and every installer of the project uses it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def pinned() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_dependency_is_pinned_within_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = pinned()
    for raw in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt (run scripts/lock.sh)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside pyproject's {requirement.specifier}"
        )


def test_setup_and_the_image_install_the_locked_versions():
    assert "-c constraints.txt" in (REPO / "scripts" / "setup.sh").read_text()
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert "constraints.txt" in dockerfile.split("RUN pip install", 1)[0]  # copied before the install
    assert "pip install --no-cache-dir -c constraints.txt" in dockerfile
