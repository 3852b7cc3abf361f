#!/usr/bin/env bash
# Makes sure a real Redis answers at REDIS_URL (default 127.0.0.1:6379).
# Starts the installed redis-server when none is running; fails with the
# reason otherwise. Used by `make run`, `make test` and CI.
set -euo pipefail

url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$host" ] && port=6379

answers() { (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && timeout 1 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

if answers; then exit 0; fi
if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ]; then
	echo "Redis at $host:$port does not answer; start it or set REDIS_URL" >&2; exit 1
fi
if ! command -v redis-server >/dev/null; then
	echo "no Redis at $host:$port and redis-server is not installed (apt-get install redis-server)" >&2; exit 1
fi
echo "starting redis-server on $host:$port" >&2
mkdir -p "${TMPDIR:-/tmp}/bazgasht-redis"
redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
	--dir "${TMPDIR:-/tmp}/bazgasht-redis" --logfile "${TMPDIR:-/tmp}/bazgasht-redis/redis.log"
for _ in $(seq 50); do answers && exit 0; sleep 0.1; done
echo "redis-server started but does not answer on $host:$port; see ${TMPDIR:-/tmp}/bazgasht-redis/redis.log" >&2
exit 1
