#!/usr/bin/env bash
# keepalived's notify hook on a load balancer or a Galera node: one line in the system log per transition, so that
# "who held the address when" has an answer (journalctl -t harborgen-vrrp).
#   keepalived calls it as: keepalived-notify.sh TYPE NAME STATE PRIORITY
set -uo pipefail
message="vrrp ${1:-?} ${2:-?} is now ${3:-?} (priority ${4:-?}) on $(hostname)"
logger -t harborgen-vrrp -- "$message" 2>/dev/null || printf '%s\n' "$message" >&2
