#!/usr/bin/env bash
# Pins the secrets Harbor 2.15's prepare makes at random on every run
# (CORE_SECRET, JOBSERVICE_SECRET, CSRF_KEY, ROBOT_SCANNER_NAME_PREFIX, the
# registry credential and its htpasswd line, the registry's http.secret) to
# the cluster's values, in the files prepare just wrote. Every other byte of
# those files stays what prepare wrote.
#   usage: pin-secrets.sh CONFIG_DIR PINS_DIR
#   CONFIG_DIR  prepare's output, common/config
#   PINS_DIR    the bundle's pins (harbor/harborgen/pins, filled from the secrets pack)
# Each pin file holds whole lines; a line replaces the one line of the target
# with the same key (env: the text before '='; YAML: the text before ': ').
# A key that is not exactly once in its target stops everything: the stock
# files changed, and a secret would stay random.
set -euo pipefail
umask 077
export LC_ALL=C

[ $# -eq 2 ] || { echo "usage: $0 CONFIG_DIR PINS_DIR" >&2; exit 2; }
config=$1
pins=$2
harbor_uid=10000  # the user Harbor's containers run as (prepare's DEFAULT_UID)

fail() {
    echo "pin-secrets: $*" >&2
    exit 1
}

# pin_lines PIN_FILE TARGET SEPARATOR
pin_lines() {
    local pin=$1 target=$2 separator=$3 temporary
    [ -f "$pin" ] || fail "missing $pin"
    [ -f "$target" ] || fail "missing $target: did prepare run?"
    grep -q 'HARBORGEN_SECRET\[' "$pin" && fail "$pin still holds placeholders: apply.sh installs the filled copy from the secrets pack"
    temporary=$(mktemp "$target.pin.XXXXXX")
    awk -v separator="$separator" -v pin_name="$pin" -v target_name="$target" '
        function key_of(line,    at) { at = index(line, separator); return at ? substr(line, 1, at - 1) : "" }
        NR == FNR { if ($0 !~ /^#/ && $0 != "") { pinned[key_of($0)] = $0 }; next }
        (key_of($0) in pinned) { print pinned[key_of($0)]; seen[key_of($0)]++; next }
        { print }
        END {
            for (key in pinned) {
                if (seen[key] != 1) {
                    printf "pin-secrets: %s: key %s is %d times in %s (expected once)\n", pin_name, key, seen[key], target_name > "/dev/stderr"
                    failed = 1
                }
            }
            exit failed
        }' "$pin" "$target" > "$temporary" || { rm -f "$temporary"; fail "$target was left as prepare wrote it"; }
    # awk ends every line; prepare's files may end without a line break: keep every other byte as it was.
    if [ -s "$target" ] && [ -n "$(tail -c 1 "$target")" ]; then
        truncate -s -1 "$temporary"
    fi
    replace "$temporary" "$target"
}

# replace NEW TARGET: NEW takes TARGET's place with TARGET's owner, readable by that owner only.
replace() {
    chown --reference="$2" "$1" 2>/dev/null || true
    chmod 0600 "$1"
    mv -f "$1" "$2"
}

pin_lines "$pins/core.env" "$config/core/env" "="
pin_lines "$pins/jobservice.env" "$config/jobservice/env" "="
pin_lines "$pins/registryctl.env" "$config/registryctl/env" "="
pin_lines "$pins/registry-config.yml" "$config/registry/config.yml" ": "

# htpasswd -bcB makes a new salt on every run: one fixed line instead, the same on every node.
[ -f "$config/registry/passwd" ] || fail "missing $config/registry/passwd: did prepare run?"
grep -q 'HARBORGEN_SECRET\[' "$pins/registry.passwd" && fail "$pins/registry.passwd still holds a placeholder"
temporary=$(mktemp "$config/registry/passwd.pin.XXXXXX")
cat "$pins/registry.passwd" > "$temporary"
replace "$temporary" "$config/registry/passwd"
# The registry reads it as Harbor's user; prepare's htpasswd left it to root, readable by all.
if [ "$(id -u)" = 0 ]; then
    chown "$harbor_uid:$harbor_uid" "$config/registry/passwd"
fi
echo "pinned the cluster's secrets in core/env, jobservice/env, registryctl/env, registry/config.yml and registry/passwd"
