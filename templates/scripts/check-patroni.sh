#!/usr/bin/env bash
# keepalived's track script on a Patroni node: exit 0 only when this node's Patroni leads the cluster
# and its PostgreSQL runs as the primary (GET /primary answers 200). A replica, a member whose server
# is down, and a leader that lost its lock answer 503 or nothing: they give the database's floating
# address up, and Harbor never connects to a replica.
#   usage: check-patroni.sh ADDRESS:PORT   (this node's Patroni REST API)
set -euo pipefail
api=${1:?usage: check-patroni.sh ADDRESS:PORT}
address=${api%:*}
port=${api##*:}
exec 3<>"/dev/tcp/$address/$port"
printf 'GET /primary HTTP/1.0\r\nHost: %s\r\n\r\n' "$address" >&3
IFS= read -r -t 2 status <&3
[[ $status == "HTTP/1."[01]" 200 "* ]]
