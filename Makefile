# ddss-platform entry points. `make help` lists the targets.
#
# `make test-live` runs the live tests (pytest -m live) against the docker/ stack started by
# `make up`. These are the servers it hands to the tests; override any of them from the environment
# or the command line (`make test-live DDSS_TEST_MONGO_URL=mongodb://...`). A server that does not
# answer is left out and the tests that need it skip, each with its reason in the summary.
#
#   DDSS_TEST_KAFKA_BOOTSTRAP      localhost:19092                  Redpanda, Kafka API (external listener)
#   DDSS_TEST_SCHEMA_REGISTRY_URL  http://localhost:18081           Redpanda schema registry
#   DDSS_TEST_MONGO_URL            mongodb://localhost:27017/ddss_live_test?directConnection=true
#                                                                   MongoDB (replica set rs0, direct: its member is
#                                                                   named mongo:27017 inside the compose network)
#   DDSS_TEST_INFLUX_URL           influxdb://TOKEN@localhost:8086/ORG
#                                                                   InfluxDB 2 (TOKEN and ORG from docker/.env)
#   DDSS_TEST_DGRAPH_URL           dgraph://localhost:9080          Dgraph alpha, gRPC
#   DDSS_TEST_SCYLLA_HOSTS         localhost:9042                   ScyllaDB, CQL
#   DDSS_TEST_DAGSTER_URL          http://localhost:3000            Dagster webserver (stack smoke test)
#   DDSS_TEST_API_URL              http://localhost:8000            reporting API (stack smoke test)

PYTHON ?= .venv/bin/python
COMPOSE ?= docker compose
STACK = $(COMPOSE) -f docker/compose.yaml --env-file docker/.env

# INFLUXDB_TOKEN and INFLUXDB_ORG of the running stack, for the InfluxDB URL below
-include docker/.env

DDSS_TEST_KAFKA_BOOTSTRAP ?= localhost:19092
DDSS_TEST_SCHEMA_REGISTRY_URL ?= http://localhost:18081
DDSS_TEST_MONGO_URL ?= mongodb://localhost:27017/ddss_live_test?directConnection=true
DDSS_TEST_INFLUX_URL ?= influxdb://$(INFLUXDB_TOKEN)@localhost:8086/$(or $(INFLUXDB_ORG),ddss)
DDSS_TEST_DGRAPH_URL ?= dgraph://localhost:9080
DDSS_TEST_SCYLLA_HOSTS ?= localhost:9042
DDSS_TEST_DAGSTER_URL ?= http://localhost:3000
DDSS_TEST_API_URL ?= http://localhost:8000
LIVE_VARS = DDSS_TEST_KAFKA_BOOTSTRAP DDSS_TEST_SCHEMA_REGISTRY_URL DDSS_TEST_MONGO_URL DDSS_TEST_INFLUX_URL \
            DDSS_TEST_DGRAPH_URL DDSS_TEST_SCYLLA_HOSTS DDSS_TEST_DAGSTER_URL DDSS_TEST_API_URL
# extra pytest arguments for test-live, e.g. PYTEST_ARGS="ddss_platform_tests/stores -x"
PYTEST_ARGS ?=

.PHONY: help setup test test-live demo up down compose-validate lint-docker

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/' | expand -t 20

setup:  ## create .venv with the project and its dev extra (scripts/setup.sh)
	bash scripts/setup.sh

test:  ## the whole test suite, as CI runs it (scripts/test.sh)
	bash scripts/test.sh

test-live:  ## the live tests against the docker/ stack (servers listed at the top of this file)
	$(foreach v,$(LIVE_VARS),$(v)='$($(v))') $(PYTHON) scripts/live_tests.py $(PYTEST_ARGS)

demo:  ## the end-to-end demo on the embedded profile (no services needed)
	.venv/bin/ddss demo

up:  ## build the platform image and start the production stack (docker/compose.yaml)
	@test -f docker/.env || { cp docker/.env.example docker/.env; \
	  echo "created docker/.env from docker/.env.example: change its secrets before exposing the stack"; }
	$(STACK) up -d --build
	@echo "Dagster UI http://localhost:3000  API http://localhost:8000  Grafana http://localhost:3001  Redpanda Console http://localhost:8088"

down:  ## stop the production stack (volumes are kept; add -v by hand to drop them)
	$(STACK) down

compose-validate:  ## validate docker/compose.yaml (compose-spec JSON schema + docker compose config)
	bash scripts/validate-compose.sh compose

lint-docker:  ## lint docker/Dockerfile with hadolint
	bash scripts/validate-compose.sh dockerfile
