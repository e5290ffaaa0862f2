#!/bin/sh
# Run once by the influxdb:2 image after its first-run setup (docker-compose.yml mounts this
# directory at /docker-entrypoint-initdb.d). Maps the bucket to an InfluxQL database and
# retention policy of the same name, so InfluxQL reads (tradefleet's store, Grafana's
# provisioned datasource) find it on /query.
set -e
influx v1 dbrp create \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  || echo "dbrp: a mapping for ${DOCKER_INFLUXDB_INIT_BUCKET} exists already"
