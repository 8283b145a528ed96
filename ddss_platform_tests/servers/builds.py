"""Obtaining servers through the ordinary clients of the registries: ``mvn`` for Maven Central and ``go`` for the
Go module proxy (cargo fetches the crates a Go module's Rust part needs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

MAVEN_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ddss.servers</groupId><artifactId>{name}</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


class BuildError(RuntimeError):
    """A server could not be obtained; the message holds the command and the end of its output."""


def run(command: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run a build command; BuildError with the command and its output's tail when it fails."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    if result.returncode != 0:
        raise BuildError(f"`{' '.join(command)}` exited with {result.returncode}:\n{result.stdout[-4000:]}")
    return result.stdout


def maven_jars(name: str, coordinates: Sequence[str], into: Path) -> Path:
    """Resolve ``group:artifact:version`` coordinates and their runtime dependencies into ``into`` (jars)."""
    dependencies = "\n".join(
        "    <dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>".format(
            *coordinate.split(":")
        )
        for coordinate in coordinates
    )
    with tempfile.TemporaryDirectory() as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(MAVEN_POM.format(name=name, dependencies=dependencies))
        run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={into}",
                "-DincludeScope=runtime",
            ]
        )
    return into


def go_module_source(module: str, version: str, into: Path) -> Path:
    """A writable copy of ``module@version``'s source (a module whose go.mod has replace directives cannot be
    built with ``go install module@version``; a build in its own tree can)."""
    info = json.loads(run(["go", "mod", "download", "-json", f"{module}@{version}"]))
    shutil.copytree(info["Dir"], into)
    for path in [into, *into.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200 | (0o100 if path.is_dir() or path.suffix == ".sh" else 0))
    return into


def go_build(
    source: Path,
    package: str,
    output: Path,
    tags: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ldflags: str = "",
) -> Path:
    command = ["go", "build", "-trimpath", "-o", str(output)]
    if tags:
        command += ["-tags", ",".join(tags)]
    if ldflags:
        command += ["-ldflags", ldflags]
    run([*command, package], cwd=source, env=env)
    return output


def remove_tree(path: Path) -> None:
    """Remove a build tree (the module cache's copies are read-only until made writable)."""
    shutil.rmtree(path, ignore_errors=True)
