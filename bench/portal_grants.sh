#!/usr/bin/env bash
# Portal throughput and latency under wrk (issue: portal, "Performance"): authenticated
# GET /api/v1/grants over keep-alive TLS at 256 connections, against the baseline of the public
# GET /api/v1/banner (same server, same TLS and HTTP path, no session lookup or database query)
# measured in the same run. Release build. Usage: bench/portal_grants.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-256}
./scripts/deps.sh
./scripts/build-web.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target conduit >/dev/null
conduit=$PWD/build/release/broker/app/conduit

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
ssh_port=$(free_port)

# The demo seeds the accounts (alice the vendor holds an approved grant), then stops.
"$conduit" demo --data-dir "$work/data" --port "$port" >"$work/demo.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sfk "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
pids=()

cat >"$work/conduit.toml" <<TOML
data_dir = "$work/data"
[portal]
port = $port
threads = $(nproc)
[ssh]
port = $ssh_port
[log]
level = "warn"
TOML
"$conduit" serve --config "$work/conduit.toml" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sfk "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# Sign in as alice: password, then the TOTP code from her secret in demo-accounts.txt.
password=$(awk '$1=="alice"{print $3; exit}' "$work/data/demo-accounts.txt")
secret=$(grep -o 'secret=[A-Z2-7]*' "$work/data/demo-accounts.txt" | head -1 | cut -d= -f2)
totp() {
  python3 - "$1" <<'PY'
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
}
jar=$work/cookies
csrf=$(curl -sk -c "$jar" -H 'Content-Type: application/json' \
  -d "{\"username\":\"alice\",\"password\":\"$password\"}" "https://127.0.0.1:$port/api/v1/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
curl -sk -b "$jar" -c "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d "{\"code\":\"$(totp "$secret")\"}" "https://127.0.0.1:$port/api/v1/login/totp" >/dev/null
cookie=$(awk '$6=="__Host-conduit-session"{print $7}' "$jar")
grants=$(curl -sk -H "Cookie: __Host-conduit-session=$cookie" "https://127.0.0.1:$port/api/v1/grants")
echo "GET /api/v1/grants answers: ${grants:0:120}..."

run() {
  echo "== $1"
  shift
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@" | grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors'
}
run "baseline: GET /api/v1/banner (public, no session, no database)" \
  "https://127.0.0.1:$port/api/v1/banner"
run "GET /api/v1/grants, signed in (session lookup + grants query + JSON)" \
  -H "Cookie: __Host-conduit-session=$cookie" "https://127.0.0.1:$port/api/v1/grants"

# Sign-in cost: each password check is an argon2id verification (libsodium INTERACTIVE: 2 passes,
# 64 MiB). Five attempts for an unknown user (verified against a dummy hash, so they cost the same
# as a real one) on fresh connections, against five GETs of the banner on fresh connections.
# The per-address limit (10 attempts a minute, two of which the sign-in above used) bounds what
# one address can make the broker spend.
ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
t0=$(ms)
for _ in 1 2 3 4 5; do curl -sk -o /dev/null "https://127.0.0.1:$port/api/v1/banner"; done
t1=$(ms)
for _ in 1 2 3 4 5; do
  curl -sk -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"nobody","password":"not-the-password"}' "https://127.0.0.1:$port/api/v1/login"
done
t2=$(ms)
echo "== sign-in attempt (new TLS connection + argon2id verify): $(((t2 - t1) / 5)) ms each; baseline GET /api/v1/banner on a new connection: $(((t1 - t0) / 5)) ms each"
