"""``scripts/servers.sh up | down | status | env | build [SERVER ...]``: the real servers for a developer's shell.

State lives in ``DDSS_SERVERS_HOME`` (default ``.servers/`` in the repository): each server's data directory,
and ``state.json`` with its ports, process groups and settings, so that ``down`` stops them by PID and ``env``
prints the ``DDSS_*`` exports (``eval "$(scripts/servers.sh env)"``). A second ``up`` keeps what runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from ddss_platform_tests.servers.base import Running, launch
from ddss_platform_tests.servers.builds import BuildError
from ddss_platform_tests.servers.process import ServerError, port_open
from ddss_platform_tests.servers.registry import PRIMARY_DOCUMENTS, SERVERS

REPOSITORY = Path(__file__).resolve().parents[2]


def servers_home() -> Path:
    return Path(os.environ.get("DDSS_SERVERS_HOME") or REPOSITORY / ".servers").resolve()


def load_state() -> dict[str, Running]:
    path = servers_home() / "state.json"
    if not path.exists():
        return {}
    return {
        name: Running(name, Path(entry["home"]), entry["ports"], entry["pids"], entry["settings"])
        for name, entry in json.loads(path.read_text()).items()
    }


def save_state(state: dict[str, Running]) -> None:
    path = servers_home() / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        r.name: {"home": str(r.home), "ports": r.ports, "pids": r.pids, "settings": r.settings} for r in state.values()
    }
    path.write_text(json.dumps(body, indent=2))


def selected(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        sys.exit(f"servers: unknown server {', '.join(unknown)} (known: {', '.join(SERVERS)})")
    return names or list(SERVERS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(names: list[str]) -> int:
    failed = 0
    for name in selected(names):
        try:
            log(f"servers: {name} ready in {SERVERS[name].build(log)}")
        except BuildError as exc:
            failed += 1
            log(f"servers: {name} could not be built: {exc}")
    return 1 if failed else 0


def up(names: list[str]) -> int:
    state = load_state()
    failed = 0
    for name in selected(names):
        server = SERVERS[name]
        previous = state.get(name)
        if previous and previous.alive():
            log(f"servers: {name} already runs (pids {previous.pids})")
            continue
        home = servers_home() / name
        # a data directory keeps the ports its configuration was written with
        ports = previous.ports if previous and (home / ".prepared").exists() else server.pick_ports()
        taken = [f"{n}={p}" for n, p in ports.items() if port_open(p)]
        if taken:
            log(f"servers: {name} cannot start, its ports are taken ({', '.join(taken)}); `down`, or remove {home}")
            failed += 1
            continue
        try:
            state[name] = launch(server, home, ports, log)
            log(f"servers: {name} up ({', '.join(f'{n}={p}' for n, p in ports.items())})")
        except (BuildError, ServerError) as exc:
            failed += 1
            log(f"servers: {name} did not come up: {exc}")
        save_state(state)
    return 1 if failed else 0


def down(names: list[str]) -> int:
    state = load_state()
    for name in reversed(selected(names)):
        if name in state:
            state[name].stop()
            log(f"servers: {name} stopped")
    save_state(state)
    return 0


def status(names: list[str]) -> int:
    state = load_state()
    for name in selected(names):
        running = state.get(name)
        if running is None or not running.pids:
            print(f"{name:10} down")
        else:
            word = "up" if running.alive() else "DEAD (a process exited; see its log)"
            ports = " ".join(f"{n}={p}" for n, p in running.ports.items())
            print(f"{name:10} {word:8} pids {running.pids} {ports} data {running.home}")
    return 0


def env(names: list[str]) -> int:
    state = {n: r for n, r in load_state().items() if r.alive() and n in selected(names)}
    exports: dict[str, str] = {}
    # the primary document store's URL wins over the other MongoDB-compatible server's
    for name in sorted(state, key=lambda n: n == PRIMARY_DOCUMENTS):
        exports.update(state[name].settings)
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


COMMANDS = {"up": up, "down": down, "status": status, "env": env, "build": build}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/servers.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("servers", nargs="*", help=f"some of: {', '.join(SERVERS)} (default: all)")
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args.servers)


if __name__ == "__main__":
    sys.exit(main())
