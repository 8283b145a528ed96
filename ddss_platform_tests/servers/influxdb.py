"""InfluxDB 2.7 (``influxd`` with Flux and tasks) built from its Go module; its Flux engine is Rust, built by
cargo from crates.io through InfluxData's pkg-config wrapper. No UI assets: built without the ``assets`` tag."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server
from ddss_platform_tests.servers.process import Process

MODULE = "github.com/influxdata/influxdb/v2"
VERSION = "v2.7.12"
ORG = "ddss"
TOKEN = "ddss-test-token"  # a loopback test server's operator token, set at onboarding
# InfluxData's release build tags, less `assets` (the UI)
BUILD_TAGS = ("sqlite_foreign_keys", "sqlite_json")
CAP_LINTS = Path(__file__).with_name("rustc-cap-lints.sh")


def build_environment(source: Path) -> dict[str, str]:
    """libflux's rust-toolchain file asks for Rust 1.72, which rustup cannot fetch here: the installed stable
    builds it, with lints capped (newer rustc lints fail its `deny(warnings)`)."""
    return {
        "PKG_CONFIG": str(source / "scripts" / "pkg-config.sh"),
        "RUSTUP_TOOLCHAIN": os.environ.get("DDSS_SERVERS_RUST_TOOLCHAIN", "stable"),
        "RUSTC_WRAPPER": str(CAP_LINTS),
    }


class InfluxDB(Server):
    name = "influxdb"
    version = VERSION
    port_names = ("influxdb",)

    def make(self, folder: Path) -> None:
        source = builds.go_module_source(MODULE, VERSION, folder / "src")
        builds.go_build(
            source,
            "./cmd/influxd",
            folder / "bin" / "influxd",
            BUILD_TAGS,
            build_environment(source),
            ldflags=f"-X main.version={VERSION.lstrip('v')}",
        )
        builds.remove_tree(source)

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        command = [
            str(folder / "bin" / "influxd"),
            f"--http-bind-address=127.0.0.1:{ports['influxdb']}",
            f"--bolt-path={home / 'influxd.bolt'}",
            f"--engine-path={home / 'engine'}",
            f"--sqlite-path={home / 'influxd.sqlite'}",
            "--reporting-disabled",
            "--log-level=warn",
        ]
        return [Process("influxd", command, home / "influxd.log", lambda: healthy(ports["influxdb"]))]

    def after_start(self, home: Path, ports: Mapping[str, int]) -> None:
        """Onboard once: the operator user, the organisation and the token the settings carry."""
        import httpx

        base = f"http://127.0.0.1:{ports['influxdb']}"
        if httpx.get(f"{base}/api/v2/setup", timeout=10).json().get("allowed"):
            response = httpx.post(
                f"{base}/api/v2/setup",
                timeout=30,
                json={
                    "username": "ddss",
                    "password": "ddss-test-password",
                    "org": ORG,
                    "bucket": "onboarding",
                    "token": TOKEN,
                },
            )
            response.raise_for_status()

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_TIMESERIES_URL": f"influxdb://{TOKEN}@127.0.0.1:{ports['influxdb']}/{ORG}"}


def healthy(port: int) -> bool:
    import httpx

    response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    return response.status_code == 200 and response.json().get("status") == "pass"
