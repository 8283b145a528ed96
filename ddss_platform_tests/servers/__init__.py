"""The production profile's real servers on loopback, built from the registries and cached by version.

Each module here knows one server: how to obtain it (Maven artifacts resolved with ``mvn``, Go modules built
with ``go``, pyspark's own ``spark-class``, a Python console script), how to start it on given ports under a
data directory, when it is ready, and which ``DDSS_*`` settings point the platform at it. The pytest fixtures
(``ddss_platform_tests.fixtures.real_servers``) start them for a test session; ``scripts/servers.sh`` (this
package's ``__main__``) starts them for a developer's shell.
"""
