#!/bin/bash
# Creates civic's topics if they do not exist: one per domain, and a dead-letter topic per consumer group (the
# five services and the gateway). Runs in the apache/kafka image (kafka-topics.sh), as the docker-compose
# one-shot `kafka-topics` and as the Kubernetes Job `civic-kafka-topics`. The list is civic.broker.system_topics()
# (a test checks that they agree). Idempotent: safe to run on every deployment.
set -euo pipefail
: "${KAFKA_BOOTSTRAP:?}" "${TOPIC_PARTITIONS:?}" "${TOPIC_REPLICATION_FACTOR:?}" "${TOPIC_MIN_INSYNC_REPLICAS:?}"
KAFKA_TOPICS=${KAFKA_TOPICS_SH:-/opt/kafka/bin/kafka-topics.sh}

TOPICS=(
  civic.assistance
  civic.eldercare
  civic.marriage
  civic.funeral
  civic.placenames
  civic.dlq.assistance
  civic.dlq.eldercare
  civic.dlq.marriage
  civic.dlq.funeral
  civic.dlq.placenames
  civic.dlq.gateway
  civic.dlq.gateway-journeys
  civic.dlq.gateway-journeys-dlq
)

# The broker may still be electing its controller when this starts: wait for it, but not forever.
for attempt in $(seq 1 60); do
  if "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --list >/dev/null 2>&1; then break; fi
  if [ "$attempt" = 60 ]; then echo "kafka at $KAFKA_BOOTSTRAP did not answer" >&2; exit 1; fi
  sleep 2
done

for topic in "${TOPICS[@]}"; do
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists --topic "$topic" \
    --partitions "$TOPIC_PARTITIONS" --replication-factor "$TOPIC_REPLICATION_FACTOR" \
    --config min.insync.replicas="$TOPIC_MIN_INSYNC_REPLICAS"
done
echo "topics ready: ${TOPICS[*]}"
