#!/bin/sh
# Prepares ./var/ for `make run`: the database directory, the store root, and a
# token file with two users (alice, bob) whose fresh random tokens are printed
# with a first request to try, once the server says it listens. An existing
# ./var/ is kept as it is.
set -eu
mkdir -p var/objects
umask 077
if [ ! -f var/tokens ]; then
    new_token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
    {
        echo "# plankton token file: <token> <user-id> [display name]"
        echo "$(new_token) alice Alice"
        echo "$(new_token) bob Bob"
    } > var/tokens
    echo "Created var/tokens with users alice and bob."
fi
port=$(printf '%s' "${PLANKTON_LISTEN:-127.0.0.1:9292}" | sed 's/.*://')
token=$(awk '$2 == "alice" { print $1; exit }' var/tokens)
cat <<MSG

Starting plankton offline: database var/plankton.db, tokens var/tokens, objects under var/objects/.
Alice's token: ${token:-(no user alice in var/tokens)}

Once its log below says "listening on http://127.0.0.1:${port}", open the web
view in a browser and log in with that token:
    http://127.0.0.1:${port}${PLANKTON_BASE_PATH:-}/ui/

Or try the API:
    curl -H "X-Auth-Token: ${token:-<token>}" http://127.0.0.1:${port}${PLANKTON_BASE_PATH:-}/images/detail

More users: target/release/plankton token add <user-id> [name]
Ctrl-C stops it once the requests in flight are answered; a second Ctrl-C at once.
If it says "cannot start", nothing was started: the message says why.

MSG
