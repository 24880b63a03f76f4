#!/usr/bin/env bash
# Interop tests: the real clients, installed from PyPI into virtual
# environments, drive the real plankton binary through whole user stories.
#
#   tests/interop/run.sh [STORY...]     (default: every story)
#
# Stories: glance-lib glance-cli (python-glanceclient 4.13.0, Python 3.11),
# kamaki-lib kamaki-pithos kamaki-cli (kamaki 0.16 + astakosclient 0.19,
# Python 2.7: the image client, the object-store client, the command line),
# snf-image-creator (snf-image-creator 0.10's upload and registration path,
# Python 2.7), openstack-cli openstack-sdk (python-openstackclient 10.5.0 and
# openstacksdk 4.22.0 against the Image API v2, Python 3.11), cross-api (an
# image made through v2 seen through kamaki's v1, and back), https (plankton
# serving HTTPS itself with a certificate made for the run: glanceclient with
# --os-cacert and kamaki with its ca_certs setting). Every story that uploads
# compares each download byte for byte.
#
# Each story gets a fresh plankton on a free port with a temporary directory
# (database, store root, token file with users alice, bob and carol). Every step of a
# story prints PASS/FAIL/SKIP; the last line is `interop: N passed, N failed`.
# The exit status is non-zero if any step failed or was skipped.
#
# Environment: TEST_PLANKTON_BIN (default target/release/plankton), INTEROP_CACHE
# (virtual environments, default target/interop-venvs, reused when their
# requirements have not changed), INTEROP_PY27 / INTEROP_PY311 (interpreters,
# default pyenv's 2.7.18 and 3.11.7), INTEROP_BASE_PATH (plankton's base_path,
# default empty), INTEROP_KEEP=1 (keep every temporary directory), INTEROP_SKIP
# (story names, space separated, left out of a run: the default run, or the
# stories named).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${TEST_PLANKTON_BIN:-$top/target/release/plankton}
CACHE=${INTEROP_CACHE:-$top/target/interop-venvs}
PY27=${INTEROP_PY27:-$HOME/.pyenv/versions/2.7.18/bin/python2.7}
PY311=${INTEROP_PY311:-$HOME/.pyenv/versions/3.11.7/bin/python3.11}
BASE_PATH=${INTEROP_BASE_PATH:-}
ALL_STORIES=(glance-lib glance-cli kamaki-lib kamaki-pithos kamaki-cli snf-image-creator
    openstack-cli openstack-sdk cross-api https)

# Users of every server: Synnefo-style UUIDs and display names as in Astakos.
# Carol's display name is not ASCII, as many of Synnefo's users' are not.
ALICE_ID=7c1f3b2e-1d4a-4f6e-9a51-a11ce0a11ce0
ALICE_NAME='alice@example.org'
BOB_ID=5e2d9c4b-8f3a-4b7e-8d20-b0bb0b0bb0b0
BOB_NAME='bob@example.org'
CAROL_ID=3a9e7d51-62c4-4d0b-b8f1-ca401ca401ca
CAROL_NAME='Καρολίνα Παπαδοπούλου'

say() { printf '%s\n' "$*"; }
die() { say "interop: $*" >&2; say "interop: 0 passed, 1 failed"; exit 1; }

# INTEROP_VENVS_ONLY=1 (`make clients`): make the virtual environments, then stop.
VENVS_ONLY=${INTEROP_VENVS_ONLY:-}
[ -x "$BIN" ] || [ "$VENVS_ONLY" = 1 ] || die "no plankton binary at $BIN (run: cargo build --release --locked)"
[ -x "$PY27" ] || die "no Python 2.7 at $PY27 (set INTEROP_PY27)"
[ -x "$PY311" ] || die "no Python 3.11 at $PY311 (set INTEROP_PY311)"

# --------------------------------------------------------------- stories
story_cmd() { # story -> sets py and script
    case $1 in
        glance-lib) py=$CACHE/py311/bin/python script=$here/glance_lib_story.py ;;
        glance-cli) py=$CACHE/py311/bin/python script=$here/glance_cli_story.py ;;
        kamaki-lib) py=$CACHE/py27/bin/python script=$here/kamaki_lib_story.py ;;
        kamaki-pithos) py=$CACHE/py27/bin/python script=$here/kamaki_pithos_story.py ;;
        kamaki-cli) py=$CACHE/py27/bin/python script=$here/kamaki_cli_story.py ;;
        snf-image-creator) py=$CACHE/py27/bin/python script=$here/snf_image_creator_story.py ;;
        openstack-cli) py=$CACHE/py311-osc/bin/python script=$here/openstack_cli_story.py ;;
        openstack-sdk) py=$CACHE/py311-osc/bin/python script=$here/openstack_sdk_story.py ;;
        cross-api) py=$CACHE/py311-osc/bin/python script=$here/cross_api_story.py ;;
        https) py=$CACHE/py311/bin/python script=$here/https_story.py ;;
        *) return 1 ;;
    esac
}

stories=("$@")
[ ${#stories[@]} -gt 0 ] || stories=("${ALL_STORIES[@]}")
for s in "${stories[@]}"; do story_cmd "$s" || die "unknown story '$s' (known: ${ALL_STORIES[*]})"; done
if [ -n "${INTEROP_SKIP:-}" ]; then
    kept=()
    for s in "${stories[@]}"; do
        case " $INTEROP_SKIP " in
            *" $s "*) say "interop: skipping $s (INTEROP_SKIP)" ;;
            *) kept+=("$s") ;;
        esac
    done
    stories=("${kept[@]}")
    [ ${#stories[@]} -gt 0 ] || { say "interop: every story skipped (INTEROP_SKIP)"; say "interop: 0 passed, 0 failed"; exit 0; }
fi

# ------------------------------------------------------------------ venvs
# A venv is reused while its stamp (the requirements file and the
# interpreter's version) is unchanged; otherwise it is made again.
stamp_of() { { cat "$1"; "$2" -V 2>&1; } | sha256sum | cut -c1-16; }

make_venv() { # name python requirements-file
    local name=$1 py=$2 req=$3 dir="$CACHE/$1" stamp
    stamp=$(stamp_of "$req" "$py")
    if [ -f "$dir/.interop-stamp" ] && [ "$(cat "$dir/.interop-stamp")" = "$stamp" ]; then
        return 0
    fi
    say "interop: creating $dir (cold: this downloads from PyPI)"
    rm -rf "$dir"
    if [ "$name" = py27 ]; then
        # Python 2.7 venvs need virtualenv < 20.22, kept in a venv of its own.
        "$CACHE/tools/bin/virtualenv" -q -p "$py" "$dir" || return 1
    else
        "$py" -m venv "$dir" || return 1
    fi
    if ! "$dir/bin/python" -m pip install --disable-pip-version-check --no-input \
            -r "$req" > "$dir/pip-install.log" 2>&1 \
        || ! "$dir/bin/python" -m pip check >> "$dir/pip-install.log" 2>&1; then
        tail -n 30 "$dir/pip-install.log"
        return 1
    fi
    echo "$stamp" > "$dir/.interop-stamp"
}

setup_venvs() {
    mkdir -p "$CACHE"
    make_venv tools "$PY311" "$here/requirements-tools.txt" || return 1
    make_venv py27 "$PY27" "$here/requirements-py27.txt" || return 1
    make_venv py311 "$PY311" "$here/requirements-py311.txt" || return 1
    # openstackclient and openstacksdk: pins that differ from glanceclient's.
    make_venv py311-osc "$PY311" "$here/requirements-osc.txt" || return 1
}

t0=$(date +%s)
if command -v flock >/dev/null; then
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
fi
setup_venvs || die "could not create the virtual environments under $CACHE"
if command -v flock >/dev/null; then flock -u 9; exec 9>&-; fi
t1=$(date +%s)
say "interop: virtual environments ready in $((t1 - t0)) s"
[ "$VENVS_ONLY" = 1 ] && { say "clients: $CACHE/py27/bin/kamaki, $CACHE/py311/bin/glance, $CACHE/py311-osc/bin/openstack"; exit 0; }

# --------------------------------------------------------------- servers
for v in $(compgen -e | grep '^PLANKTON_' || true); do
    unset "$v"
done

new_token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# A CA and a certificate it signs for 127.0.0.1, in $dir/tls (made with
# openssl for each run): the https story's server serves it, its clients
# trust the CA only.
make_certificate() { # dir
    local t=$1/tls
    mkdir -p "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plankton interop CA" \
        -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$t/key.pem" -out "$t/server.csr" 2>/dev/null || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$t/ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 2 -extfile "$t/ext" -out "$t/cert.pem" 2>/dev/null
}

start_server() { # dir [tls] -> sets PLANKTON_URL
    local dir=$1 tls=()
    mkdir -p "$dir/objects" "$dir/work"
    if [ "${2:-}" = tls ]; then
        make_certificate "$dir" || { say "could not make a certificate with openssl"; return 1; }
        tls=(PLANKTON_TLS__CERTIFICATE="$dir/tls/cert.pem" PLANKTON_TLS__PRIVATE_KEY="$dir/tls/key.pem")
    fi
    ALICE_TOKEN=$(new_token) BOB_TOKEN=$(new_token) CAROL_TOKEN=$(new_token)
    (umask 077; printf '# interop users\n%s %s %s\n%s %s %s\n%s %s %s\n' \
        "$ALICE_TOKEN" "$ALICE_ID" "$ALICE_NAME" "$BOB_TOKEN" "$BOB_ID" "$BOB_NAME" \
        "$CAROL_TOKEN" "$CAROL_ID" "$CAROL_NAME" > "$dir/tokens")
    env PLANKTON_LISTEN=127.0.0.1:0 PLANKTON_BASE_PATH="$BASE_PATH" \
        PLANKTON_DATABASE="$dir/plankton.db" PLANKTON_IDENTITY__TOKEN_FILE="$dir/tokens" \
        PLANKTON_STORE__ROOT="$dir/objects" PLANKTON_IMAGES__INSPECTION=record \
        RUST_LOG=info,actix_web=info "${tls[@]}" \
        "$BIN" > "$dir/server.log" 2>&1 &
    SERVER_PID=$!
    PLANKTON_URL=
    for _ in $(seq 100); do
        PLANKTON_URL=$(sed -n 's/.* listening on \(https\{0,1\}:[^ ]*\).*/\1/p' "$dir/server.log" | head -n1)
        [ -n "$PLANKTON_URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    say "plankton did not start:"; cat "$dir/server.log"
    return 1
}

tmp_root=$(mktemp -d "${TMPDIR:-/tmp}/plankton-interop.XXXXXX")
passed=0 failed=0 skipped=0
for s in "${stories[@]}"; do
    dir="$tmp_root/$s"
    mkdir -p "$dir"
    say "--- $s"
    mode=
    [ "$s" = https ] && mode=tls
    if ! start_server "$dir" $mode; then
        failed=$((failed + 1)); say "FAIL $s: plankton did not start"; continue
    fi
    story_cmd "$s"
    # HOME is the story's own: kamaki and glanceclient keep config, history
    # and caches there. A CA bundle named in the environment would win over
    # glance's --os-cacert (requests prefers it): the clients get only what
    # the story gives them.
    env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE HOME="$dir/work" KAMAKI_CONFIG="$dir/work/kamakirc" PYTHONDONTWRITEBYTECODE=1 \
        PLANKTON_URL="$PLANKTON_URL" PLANKTON_STORE_ROOT="$dir/objects" \
        INTEROP_WORK="$dir/work" INTEROP_CA="$dir/tls/ca.pem" INTEROP_BIN="$(dirname "$py")" INTEROP_PY27_BIN="$CACHE/py27/bin" \
        ALICE_TOKEN="$ALICE_TOKEN" ALICE_ID="$ALICE_ID" ALICE_NAME="$ALICE_NAME" \
        BOB_TOKEN="$BOB_TOKEN" BOB_ID="$BOB_ID" BOB_NAME="$BOB_NAME" \
        CAROL_TOKEN="$CAROL_TOKEN" CAROL_ID="$CAROL_ID" CAROL_NAME="$CAROL_NAME" \
        timeout 300 "$py" "$script" 2> "$dir/story.err" | tee "$dir/story.out"
    rc=${PIPESTATUS[0]}
    stop_server
    p=$(grep -c '^PASS ' "$dir/story.out"); f=$(grep -c '^FAIL ' "$dir/story.out")
    k=$(grep -c '^SKIP ' "$dir/story.out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then
        f=1; say "FAIL $s: the story script exited $rc"; sed 's/^/    /' "$dir/story.err" | tail -n 30
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
    if [ "$f" -gt 0 ] || [ "$k" -gt 0 ]; then
        say "    (server log, story stderr and scratch files kept in $dir)"
    fi
done

t2=$(date +%s)
say "interop: stories took $((t2 - t1)) s"
if [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ] && [ -z "${INTEROP_KEEP:-}" ]; then
    rm -rf "$tmp_root"
fi
if [ "$skipped" -gt 0 ]; then
    say "interop: $passed passed, $failed failed, $skipped skipped"
else
    say "interop: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
