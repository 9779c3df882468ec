#!/usr/bin/env bash
# Browser RDP through `conduit serve` against conduit-rdp-worker alone (docs/benchmarks.md
# "RDP"), in one run, against one real RDP server: FreeRDP's shadow server (NLA, SAM file)
# sharing an Xvfb display of 1024x768x24 with xterms on it (docs/shared testing notes "RDP
# target"). Every portal session is what the browser page does (bench/rdp_sessions.cpp): the
# WebSocket /api/v1/rdp with a signed-in vendor's cookie, every frame acknowledged as soon as its
# frame end is read. The baseline is the worker alone over its socketpair (same FreeRDP client,
# tiles and flow control; no broker: no grant, vault, recording, tile checks or WebSocket).
#
# Conduit as deployed: a fresh data directory, policy with recording = "required", mfa =
# "required", one approval, max_sessions_per_user raised to 100 (the default 1 allows one
# session per vendor; 100 is the policy language's largest) and the asset's --max-sessions
# 1000; the endpoint's password in the vault and its certificate pinned with `conduit admin
# asset pin-rdp --probe`. One vendor per 100 sessions of the largest N in SESSIONS signs in
# once (password + TOTP); session i opens with vendor i mod V's cookie.
#
# Figures:
#   1. first frame: FIRST_RUNS (5) times per path, interleaved, on the idle screen (an xterm
#      running `cat`): the portal from the WebSocket connect to the first frame end; the worker
#      from its spawn to its first frame end (and from the connect frame);
#   1b. input: INPUT_RUNS (50) key presses per path on the idle screen, alternately "a" and
#      Backspace into the xterm running `cat`: from the press sent (the page's key message; the
#      worker's key frame) to the end of the first frame with tiles, the echo;
#   2. stream: a second xterm scrolls `ls -lR /usr/share` in a loop (the screen changes all
#      the time); one session per path for STREAM_S (20) seconds: frames and bytes per second,
#      CPU of the broker and the worker, worker RSS/Pss and the broker's RSS growth;
#      with SCREEN=panel instead an operator panel: a 64x10-character xterm in the corner
#      whose eight values and bars change ten times a second (bench/hmi_panel.py), the rest
#      of the screen still, as an HMI or a SCADA overview shows it;
#   3. many: for N in SESSIONS ("1 5 10 20 40"): N portal sessions at once on that
#      screen for MANY_S (10) seconds: per-session frames per second (median, min), CPU of the
#      broker, of the workers and of the server side (shadow server, Xvfb, xterms: on the same 2
#      cores), memory; then N workers alone the same way (the baseline: what the RDP server
#      and the machine give N clients without the broker).
#
# Release build. Usage: bench/rdp.sh
# Environment: FIRST_RUNS, INPUT_RUNS, STREAM_S, MANY_S, SESSIONS, SCREEN (scroll or panel; above), DESKTOP (1024x768: the Xvfb
# screen and the desktop every session asks for), OPEN_PARALLEL (4: sessions
# connecting at a time), SKIP_BUILD=1 uses the binaries already in build/release, KEEP_WORK=1
# keeps the temporary directory (logs, data directory).
set -euo pipefail
cd "$(dirname "$0")/.."
first_runs=${FIRST_RUNS:-5}
input_runs=${INPUT_RUNS:-50}
stream_s=${STREAM_S:-20}
many_s=${MANY_S:-10}
sessions=${SESSIONS:-1 5 10 20 40}
desktop=${DESKTOP:-1024x768}
screen=${SCREEN:-scroll}
case $screen in scroll | panel) ;; *) echo "SCREEN must be scroll or panel" >&2; exit 2 ;; esac
root=$PWD
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  ./scripts/deps.sh
  # Through the lock the other builds on this shared machine take.
  flock /tmp/conduit-build.lock cmake --preset release -DCONDUIT_BUILD_BENCH=ON >/dev/null
  flock /tmp/conduit-build.lock cmake --build --preset release -j "$(nproc)" \
    --target conduit conduit-rdp-worker bench_rdp_sessions >/dev/null
fi
conduit=$root/build/release/broker/app/conduit
worker=$root/build/release/broker/app/conduit-rdp-worker
driver=$root/build/release/bench/bench_rdp_sessions

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# free_port, wait_for, admin, add_organisation, grant, totp_code.
# shellcheck source=lib_gateway.sh source-path=SCRIPTDIR
. "$root/bench/lib_gateway.sh"
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "rdp: commit $(git rev-parse --short HEAD)," \
  "$(git status --porcelain -- broker portal | wc -l) uncommitted file(s) under broker/ and portal/;" \
  "$(nproc) cores; $(dpkg-query -W -f='freerdp2-shadow-x11 ${Version}' freerdp2-shadow-x11 2>/dev/null)"
load

# ---- the RDP server: Xvfb, an idle xterm, the shadow server with NLA ----
Xvfb -displayfd 5 -screen 0 "${desktop}x24" -nolisten tcp 5>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
pids+=("$xvfb_pid")
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
display=:$(head -1 "$work/display")
# 170x58 characters fill the screen (as tests/rdp/integration/rdp_target.cpp).
DISPLAY=$display xterm -geometry 170x58+0+0 -e sh -c 'cat >/dev/null' 2>/dev/null &
xterm_idle=$!
pids+=("$xterm_idle")
rdp_user=vendor
rdp_password="Pw-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf '%s\n' "$rdp_password" >"$work/rdp.pw"
winpr-hash -u "$rdp_user" -p "$rdp_password" -f sam >"$work/sam.txt"
rdp_port=$(free_port)
DISPLAY=$display freerdp-shadow-cli "/port:$rdp_port" /bind-address:127.0.0.1 /sec:nla \
  "/sam-file:$work/sam.txt" >"$work/shadow.log" 2>&1 &
shadow_pid=$!
pids+=("$shadow_pid")
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$rdp_port") 2>/dev/null && break
  sleep 0.1
done

# ---- Conduit ----
cat >"$work/policy.toml" <<'POLICY'
[[rule]]
id = "bench-rdp"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["rdp"]
[rule.limits]
max_duration = "8h"          # far longer than a run
warning_period = "1m"
approvals = 1
recording = "required"       # as deployed: every tile recorded
mfa = "required"
max_sessions_per_user = 100  # default 1: one vendor opens up to 100 sessions
POLICY
data=$work/data
"$conduit" init --data-dir "$data" >/dev/null
cat >"$work/conduit.toml" <<TOML
data_dir = "$data"
[portal]
port = 0
[ssh]
port = 0
[rdp]
worker = "$worker"
connect_timeout_seconds = 60   # many sessions log in to one shadow server at once
[policy]
files = ["$work/policy.toml"]
TOML
printf 'bench-password-1\n' >"$work/pw"
add_organisation
"$conduit" vault --data-dir "$data" put desk/rdp --value-file "$work/rdp.pw" >/dev/null
admin asset add desk --owner-group ops --criticality medium --max-sessions 1000 \
  --rdp "127.0.0.1:$rdp_port:$rdp_user" >/dev/null
admin asset set-credential desk --protocol rdp --secret desk/rdp >/dev/null
fingerprint=$(admin asset pin-rdp desk --probe 2>"$work/probe.log" | grep -o 'sha256 [0-9a-f]\{64\}' | cut -d' ' -f2)
# shellcheck disable=SC2086 # a list of numbers
largest=$(printf '%s\n' 1 $sessions | sort -n | tail -1)
vendors=$(((largest + 99) / 100))
secrets=()
for v in $(seq "$vendors"); do
  admin user add "v$v" --role vendor --vendor acme --password-file "$work/pw" >/dev/null
  secrets+=("$(admin user enrol-totp "v$v" | grep -o 'secret=[A-Z2-7]*' | cut -d= -f2)")
  grant "v$v" desk rdp
done

"$conduit" serve --config "$work/conduit.toml" </dev/null >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
portal=$(wait_for "$work/serve.log" "event=portal_listening" | sed 's/.* port=\([0-9]*\).*/\1/')

# Sign in each vendor: password, then the TOTP code.
cookies=
for v in $(seq "$vendors"); do
  jar=$work/cookies$v
  csrf=$(curl -sk -c "$jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"v$v\",\"password\":\"bench-password-1\"}" \
    "https://127.0.0.1:$portal/api/v1/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
  curl -sfk -b "$jar" -c "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
    -d "{\"code\":\"$(totp_code "${secrets[v - 1]}")\"}" \
    "https://127.0.0.1:$portal/api/v1/login/totp" >/dev/null
  cookies+=${cookies:+,}$(awk '$6=="__Host-conduit-session"{print $7}' "$jar")
done
echo "portal on $portal (conduit serve pid $serve_pid), $vendors vendor(s) signed in; shadow server on $rdp_port (pid $shadow_pid)," \
  "display $display; certificate $fingerprint"

export WORKER_LOG=${WORKER_LOG:-$work/workers.log}
run() {
  "$driver" --portal "$portal" --cookie "$cookies" --asset desk --worker "$worker" \
    --target "127.0.0.1:$rdp_port" --user "$rdp_user" --password-file "$work/rdp.pw" \
    --fingerprint "$fingerprint" --desktop "$desktop" --broker-pid "$serve_pid" \
    --other-pids "$shadow_pid,$xvfb_pid,$xterm_idle${xterm_scroll:+,$xterm_scroll}" "$@"
}

echo "== 1. connect to first frame, idle screen ($first_runs runs per path, interleaved)"
load
run first "$first_runs"

echo "== 1b. key press to echo on the idle screen ($input_runs presses per path)"
load
run input "$input_runs"

if [ "$screen" = panel ]; then
  echo "== 2. operator panel (eight values, ten times a second), ${stream_s} s per path"
  DISPLAY=$display xterm -geometry 64x10+0+0 -e python3 "$root/bench/hmi_panel.py" 2>/dev/null &
else
  echo "== 2. scrolling screen (ls -lR /usr/share in a loop), ${stream_s} s per path"
  DISPLAY=$display xterm -geometry 170x58+0+0 -e sh -c 'while :; do ls -lR /usr/share; done' \
    2>/dev/null &
fi
xterm_scroll=$!
pids+=("$xterm_scroll")
sleep 2
load
run stream "$stream_s"

echo "== 3. concurrent sessions on the $screen screen, portal then workers alone, ${many_s} s each: $sessions"
load
# shellcheck disable=SC2086 # a list of numbers
run many "$many_s" $sessions
load
echo "broker log: $(grep -c 'event=rdp_session_started' "$work/serve.log") sessions started," \
  "$(grep -c 'event=rdp_session_ended' "$work/serve.log") ended," \
  "$(grep -c 'event=rdp_worker_stopped' "$work/serve.log") workers stopped unexpectedly"
grep -m5 'level=error\|event=web_rdp_refused' "$work/serve.log" || true
