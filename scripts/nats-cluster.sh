#!/usr/bin/env bash
# A local 3-node NATS cluster with JetStream on loopback, for `sluice serve --store`.
#
#   scripts/nats-cluster.sh up [dir] [first-port]   start n1..n3; prints the --store URL
#   scripts/nats-cluster.sh down [dir]              stop them (their data stays in dir)
#
# Client ports first-port..first-port+2 (default 4222..4224), cluster routes on first-port+2000..
# (6222..6224). max_payload is 16 MB: records reach 10 MiB plus headers (the default is 1 MB).
# Debian's package: apt-get install -y nats-server (2.9; see docs/nats-store.md for its limits).
set -euo pipefail
command=${1:-up}
dir=${2:-${TMPDIR:-/tmp}/sluice-nats-cluster}
first=${3:-4222}
bin=$(command -v nats-server || echo /usr/sbin/nats-server)

case "$command" in
up)
  mkdir -p "$dir"
  routes=""
  for i in 1 2 3; do routes+="nats-route://127.0.0.1:$((first + 2000 + i - 1)), "; done
  for i in 1 2 3; do
    port=$((first + i - 1))
    mkdir -p "$dir/n$i"
    cat >"$dir/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$port
max_payload: 16MB
jetstream { store_dir: "$dir/n$i" }
cluster {
  name: sluice
  listen: 127.0.0.1:$((first + 2000 + i - 1))
  routes: [${routes%, }]
}
EOF
    if [ -f "$dir/n$i.pid" ] && kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null; then
      echo "n$i already running (pid $(cat "$dir/n$i.pid"))" >&2
      continue
    fi
    nohup "$bin" -c "$dir/n$i.conf" -l "$dir/n$i.log" >/dev/null 2>&1 &
    echo $! >"$dir/n$i.pid"
  done
  for i in 1 2 3; do
    for _ in $(seq 1 100); do
      grep -q 'Server is ready' "$dir/n$i.log" 2>/dev/null && break
      sleep 0.1
    done
    grep -q 'Server is ready' "$dir/n$i.log" || { echo "n$i did not start: see $dir/n$i.log" >&2; exit 1; }
  done
  # JetStream answers once the nodes have elected a metadata leader (a few seconds); sluice
  # serve waits for it at start.
  echo "nats://127.0.0.1:${first},127.0.0.1:$((first + 1)),127.0.0.1:$((first + 2))"
  ;;
down)
  for i in 1 2 3; do
    if [ -f "$dir/n$i.pid" ]; then
      kill "$(cat "$dir/n$i.pid")" 2>/dev/null || true
      rm -f "$dir/n$i.pid"
    fi
  done
  ;;
*)
  echo "usage: $0 up|down [dir] [first-port]" >&2
  exit 2
  ;;
esac
