#!/usr/bin/env bash
# `make run`: starts the pinned nats-server (unless NATS_URL is given), every
# Bazgasht service that exists, provisions the demo tenant, runs the demo
# shop, and stays up until Ctrl-C; then stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=.data
LOGS=$DATA/logs
# The demo is a story told from the start: each run begins with empty NATS
# data (what Redis still caches of an earlier run is never served: the
# profile cache's keys name the store they came from).
rm -rf "$DATA/nats"
mkdir -p "$LOGS"
export BAZGASHT_DEV_API_KEY="${BAZGASHT_DEV_API_KEY:-bzk_dev_demo_key}"
export BAZGASHT_DEV_SHOPIFY_SECRET="${BAZGASHT_DEV_SHOPIFY_SECRET:-shpss_dev_demo_secret}"
export BAZGASHT_DEV_WOOCOMMERCE_SECRET="${BAZGASHT_DEV_WOOCOMMERCE_SECRET:-wc_dev_demo_secret}"
NATS_PORT="${BAZGASHT_NATS_PORT:-4250}"

pids=()
names=()
stop_all() {
	trap - INT TERM EXIT
	echo
	echo "stopping…"
	# Services first (they drain their NATS connections), NATS last.
	for ((i=${#pids[@]}-1; i>=0; i--)); do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
		wait "${pids[$i]}" 2>/dev/null || true
		echo "  ${names[$i]} stopped"
	done
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

start() { # name, then the command; output goes to .data/logs/<name>.log
	local name=$1; shift
	"$@" >"$LOGS/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}

wait_http() { # url, name
	for _ in $(seq 200); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
		sleep 0.1
	done
	echo "$2 did not become ready; its log ($LOGS/$2.log):" >&2
	tail -n 30 "$LOGS/$2.log" >&2
	exit 1
}

if [ -z "${NATS_URL:-}" ]; then
	start nats-server bin/nats-server -js -sd "$DATA/nats" -a 127.0.0.1 -p "$NATS_PORT" -m "$((NATS_PORT + 1000))"
	wait_http "http://127.0.0.1:$((NATS_PORT + 1000))/healthz?js-enabled-only=true" nats-server
	export NATS_URL="nats://127.0.0.1:$NATS_PORT"
	echo "nats-server $(bin/nats-server --version | awk '{print $2}') on $NATS_URL (data in $DATA/nats)"
fi

# The demo tenant: only the key's hash is written down.
key_hash=$(printf %s "$BAZGASHT_DEV_API_KEY" | sha256sum | cut -d' ' -f1)
cat >"$DATA/tenants.json" <<JSON
{"tenants": [{"id": "demo", "api_key_sha256": ["$key_hash"], "phone_country_code": "98",
  "shopify_secret": "$BAZGASHT_DEV_SHOPIFY_SECRET", "woocommerce_secret": "$BAZGASHT_DEV_WOOCOMMERCE_SECRET"}]}
JSON
chmod 600 "$DATA/tenants.json"

INGEST_TENANTS_FILE="$DATA/tenants.json" start ingest bin/ingest
wait_http http://127.0.0.1:7080/readyz ingest
echo "ingest: HTTP :8080, gRPC :9080, admin :7080 (log in $LOGS/ingest.log)"
echo "demo tenant 'demo', API key: $BAZGASHT_DEV_API_KEY"

PROFILE_VIP_REVENUE="${PROFILE_VIP_REVENUE:-IRT=900000}" start profile bin/profile
wait_http http://127.0.0.1:7081/readyz profile
echo "profile: gRPC :9081, admin :7081 (log in $LOGS/profile.log; Redis at ${REDIS_URL:-redis://127.0.0.1:6379/0})"

# The demo runs the default rule pack with a week lasting 30 seconds.
TRIGGER_PACK_TIME_SCALE="${TRIGGER_PACK_TIME_SCALE:-0.0000496}" TRIGGER_GLOBAL_CAP="${TRIGGER_GLOBAL_CAP:-20/1h}" \
	start trigger bin/trigger
wait_http http://127.0.0.1:7082/readyz trigger
echo "trigger: gRPC :9082, admin :7082, default pack with a week scaled to 30 s (log in $LOGS/trigger.log)"

# Response links are signed with SURVEY_LINK_KEY: a development key here.
SURVEY_LINK_KEY="${SURVEY_LINK_KEY:-6465762d6f6e6c792d62617a67617368742d7375727665792d6c696e6b2d6b6579}" \
	SURVEY_SHOP_NAMES="${SURVEY_SHOP_NAMES:-demo=Demo Shop}" start survey bin/survey
wait_http http://127.0.0.1:7083/readyz survey
echo "survey: response pages :8083, gRPC :9083, admin :7083 (log in $LOGS/survey.log)"

# Stand-ins for the outside providers: a real SMTP server, an SMS gateway and
# a webhook receiver, printing every message that reaches them.
DEVSINKS_DELIVERY_URL=http://127.0.0.1:8084/sms/delivery/dev-callback start devsinks bin/notification-devsinks
wait_http http://127.0.0.1:8091/inbox devsinks
NOTIFICATION_LINK_KEY="${NOTIFICATION_LINK_KEY:-dev-only-bazgasht-unsubscribe-link-key}" \
	NOTIFICATION_SMTP_HOST=127.0.0.1 NOTIFICATION_SMTP_PORT=2525 NOTIFICATION_SMTP_TLS=none \
	NOTIFICATION_SMS_URL=http://127.0.0.1:8091 NOTIFICATION_SMS_API_KEY=dev-sms-key NOTIFICATION_SMS_CALLBACK_SECRET=dev-callback \
	NOTIFICATION_WEBHOOK_URL=http://127.0.0.1:8092/ NOTIFICATION_WEBHOOK_SECRET=dev-webhook-secret \
	NOTIFICATION_QUIET_HOURS="${NOTIFICATION_QUIET_HOURS:-off}" start notification bin/notification
wait_http http://127.0.0.1:7084/readyz notification
echo "notification: unsubscribe and delivery reports :8084, gRPC :9084, admin :7084 (log in $LOGS/notification.log)"
echo "dev providers: SMTP 127.0.0.1:2525, SMS gateway 127.0.0.1:8091, webhooks 127.0.0.1:8092 (what arrives is printed below)"
# What reaches the providers is shown as it arrives.
tail -n +2 -F "$LOGS/devsinks.log" 2>/dev/null | sed -u 's/^/  ✉ /' &
pids+=($!)
names+=("provider output")
echo

bin/demoshop -api http://127.0.0.1:8080 -nats "$NATS_URL" -profile 127.0.0.1:9081 -trigger 127.0.0.1:9082 -sms-inbox http://127.0.0.1:8091/inbox

cat <<MSG

Bazgasht is running. Try it:
  curl -s -X POST http://127.0.0.1:8080/v1/events \\
    -H "Authorization: Bearer $BAZGASHT_DEV_API_KEY" -H 'Content-Type: application/json' \\
    -d '{"id":"hello-1","type":"product.viewed","customer":{"customer_id":"c-1"},"product_viewed":{"product":{"product_id":"p-1"}}}'
  curl -s http://127.0.0.1:7080/metrics | grep bazgasht_
  grpcurl -plaintext 127.0.0.1:9080 list
  grpcurl -plaintext -d '{"tenant":"demo","customer":{"identity":{"email":"sara@example.com"}}}' \\
    127.0.0.1:9081 cx.profile.v1.ProfileService/GetProfile
Logs are in $LOGS. Press Ctrl-C to stop.
MSG
# Stay up while everything runs; a process that stops on its own is named
# with the end of its log, and the rest are stopped.
while true; do
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[$i]}" 2>/dev/null; then
			echo >&2
			echo "${names[$i]} stopped on its own; the end of its log ($LOGS/${names[$i]}.log):" >&2
			tail -n 20 "$LOGS/${names[$i]}.log" >&2 2>/dev/null || true
			exit 1
		fi
	done
	sleep 1
done
