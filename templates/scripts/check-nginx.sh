#!/usr/bin/env bash
# keepalived's track script on a load balancer: exit 0 when nginx answers HTTP on PORT of this
# machine. Any HTTP answer will do (a 502 while every Harbor node is down is still nginx
# answering): moving the address would not help then, and both nodes would fail together.
#   usage: check-nginx.sh PORT
set -euo pipefail
port=${1:?usage: check-nginx.sh PORT}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'HEAD / HTTP/1.0\r\n\r\n' >&3
IFS= read -r -t 2 status <&3
[[ $status == HTTP/* ]]
