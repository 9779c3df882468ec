#!/usr/bin/env bash
# Starts the demo's local targets:
#  - the simulated PLC `conduit-demo-plc` (Modbus/TCP, libmodbus) on 127.0.0.1:1502, the demo
#    asset plc-1; it needs no account, so it runs as any user;
#  - an engineering workstation for the demo asset ews-1: an xterm on an Xvfb display, shown by
#    FreeRDP's shadow server on 127.0.0.1:13389 with NLA for the account `conduit-demo` (its own
#    SAM file, so no system account); the password is new on every run, stored in the vault as
#    ews-1/rdp and in DATA_DIR/demo-targets/rdp.password (0600);
#  - as root only: a Linux operator panel for the demo asset panel-7: xrdp on 127.0.0.1:13390 (TLS,
#    its own certificate) in front of a TigerVNC display, with xrdp's channel server mounting
#    the drive a session offers (FUSE); the panel's screen lists that drive and the panel
#    exports a trend file to it every 10 s;
#  - as root only: an OpenSSH sshd on 127.0.0.1:2201 that trusts Conduit's SSH user CA, with an
#    unprivileged account `conduit-demo` (the demo asset hmi-3).
# A second run replaces them; `demo-targets.sh --stop DATA_DIR` stops them (scripts/run.sh does
# when the demo ends).
# Usage: demo-targets.sh DATA_DIR CONDUIT [DEMO_PLC] (DEMO_PLC defaults to the conduit-demo-plc
# of the same build tree as CONDUIT), or demo-targets.sh --stop DATA_DIR.
set -euo pipefail
# Stops the process in PID_FILE if it is still the program named COMM (a PID can be reused).
stop_previous() {
  local pid_file=$1 comm=$2 pid
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
    kill "$pid" && sleep 0.5
  fi
  rm -f "$pid_file"
}

if [ "${1:-}" = --stop ]; then
  dir="$(realpath "${2:?usage: demo-targets.sh --stop DATA_DIR}")/demo-targets"
  stop_previous "$dir/plc.pid" conduit-demo-pl   # /proc/PID/comm keeps 15 characters
  stop_previous "$dir/rdp.pid" freerdp-shadow-
  stop_previous "$dir/xterm.pid" xterm
  stop_previous "$dir/xvfb.pid" Xvfb
  stop_previous "$dir/panel-xrdp.pid" xrdp
  stop_previous "$dir/panel-chansrv.pid" xrdp-chansrv
  stop_previous "$dir/panel-xterm.pid" xterm
  stop_previous "$dir/panel-xvnc.pid" Xvnc
  umount -l "$dir/panel-home/thinclient_drives" 2>/dev/null || true
  stop_previous "$dir/sshd.pid" sshd
  exit 0
fi

data=${1:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY [DEMO_PLC_BINARY]}
conduit=${2:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY [DEMO_PLC_BINARY]}
data=$(realpath "$data")   # sshd re-executes from / for each connection: paths must be absolute
conduit=$(realpath "$conduit")
plc=${3:-$(dirname "$conduit")/../../tools/demo_plc/conduit-demo-plc}
dir="$data/demo-targets"
mkdir -p "$dir" && chmod 700 "$dir"

# The simulated PLC. 1502: the unprivileged stand-in for Modbus's 502; the seed's plc-1 endpoint
# (broker/app/src/demo_seed.cpp) names this port.
plc_port=1502
stop_previous "$dir/plc.pid" conduit-demo-pl   # /proc/PID/comm keeps 15 characters
if [ ! -x "$plc" ]; then
  echo "demo-targets: no demo PLC at $plc (build the target conduit-demo-plc); skipping it" >&2
else
  setsid "$(realpath "$plc")" --address 127.0.0.1 --port "$plc_port" </dev/null \
    >"$dir/plc.log" 2>&1 &
  echo $! > "$dir/plc.pid"
  for _ in $(seq 50); do
    grep -q "listening on" "$dir/plc.log" 2>/dev/null && break
    kill -0 "$(cat "$dir/plc.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "listening on" "$dir/plc.log"; then
    echo "demo target: PLC (Modbus/TCP) on 127.0.0.1:$plc_port (holding register i = 1000 + i)" >&2
  else
    echo "demo-targets: the demo PLC did not start: $(cat "$dir/plc.log")" >&2
    rm -f "$dir/plc.pid"
  fi
fi

# The engineering workstation. 13389: never the port of a real RDP server on this host. The seed
# (broker/app/src/demo_seed.cpp) names this port, the account, the secret ews-1/rdp and the
# fingerprint file.
rdp_port=13389
stop_previous "$dir/rdp.pid" freerdp-shadow-   # comm: the first 15 characters
stop_previous "$dir/xterm.pid" xterm
stop_previous "$dir/xvfb.pid" Xvfb
missing_x=""
for tool in Xvfb xterm freerdp-shadow-cli winpr-hash openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing_x+=" $tool"
done
if [ -n "$missing_x" ]; then
  echo "demo-targets: no$missing_x (scripts/deps.sh installs them); skipping the RDP workstation" >&2
else
  # Xvfb picks a free display and writes its number to fd 3 once it accepts clients.
  rm -f "$dir/xvfb.display" "$dir/rdp.fingerprint"
  setsid Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$dir/xvfb.display" \
    </dev/null >"$dir/xvfb.log" 2>&1 &
  echo $! > "$dir/xvfb.pid"
  for _ in $(seq 100); do
    grep -q '^[0-9]' "$dir/xvfb.display" 2>/dev/null && break
    kill -0 "$(cat "$dir/xvfb.pid")" 2>/dev/null || break
    sleep 0.1
  done
  display=$(head -n 1 "$dir/xvfb.display" 2>/dev/null || true)
  if [ -z "$display" ]; then
    echo "demo-targets: Xvfb did not start: $(cat "$dir/xvfb.log")" >&2
    stop_previous "$dir/xvfb.pid" Xvfb
  else
    # The console a vendor sees: a banner and a shell, restarted when they type exit (an empty
    # display would show black). As root, the shell runs as nobody: the desktop is for the demo,
    # not a root shell on the broker's host.
    drop=()
    [ "$(id -u)" -eq 0 ] && drop=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
    # shellcheck disable=SC2016  # expanded by the console's own shell
    console='cd /tmp; while :; do clear
      printf "%s\n" "ENGINEERING WORKSTATION ews-1 (demo)" \
        "plant-north / cell-3 / line 3 controls - reached through Conduit, recorded" ""
      sh -i; done'
    DISPLAY=":$display" setsid xterm -geometry 170x58+0+0 -title "ews-1" \
      -e "${drop[@]}" env HOME=/tmp PS1='ews-1$ ' sh -c "$console" \
      </dev/null >"$dir/xterm.log" 2>&1 &
    echo $! > "$dir/xterm.pid"

    # A new password per run: only the vault and this 0600 file hold it.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' > "$dir/rdp.password")
    (umask 077 && winpr-hash -u conduit-demo -p "$(cat "$dir/rdp.password")" -f sam \
      > "$dir/rdp.sam")
    "$conduit" vault --data-dir "$data" put ews-1/rdp --value-file "$dir/rdp.password" \
      --description "demo workstation ews-1, account conduit-demo (demo-targets.sh)" >/dev/null
    # Its own configuration directory: the certificate it creates there on first start is the one
    # the seed pins, and no other shadow server on this host shares it.
    mkdir -p "$dir/rdp-config"
    DISPLAY=":$display" XDG_CONFIG_HOME="$dir/rdp-config" setsid freerdp-shadow-cli \
      "/port:$rdp_port" /bind-address:127.0.0.1 /sec:nla "/sam-file:$dir/rdp.sam" \
      </dev/null >"$dir/rdp.log" 2>&1 &
    echo $! > "$dir/rdp.pid"
    listening=no
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$rdp_port") 2>/dev/null; then listening=yes; break; fi
      kill -0 "$(cat "$dir/rdp.pid")" 2>/dev/null || break
      sleep 0.1
    done
    certificate="$dir/rdp-config/freerdp/shadow/shadow.crt"
    if [ "$listening" = yes ] && kill -0 "$(cat "$dir/rdp.pid")" 2>/dev/null &&
      [ -f "$certificate" ]; then
      # What the broker pins (the SHA-256 of the DER certificate), read from the target's own file
      # instead of trusted on first use.
      openssl x509 -in "$certificate" -outform DER | sha256sum | cut -d ' ' -f 1 \
        > "$dir/rdp.fingerprint"
      echo "demo target: RDP workstation on 127.0.0.1:$rdp_port (display :$display, NLA account" \
        "conduit-demo, password in $dir/rdp.password)" >&2
    else
      echo "demo-targets: the RDP shadow server did not start: $(tail -n 5 "$dir/rdp.log")" >&2
      stop_previous "$dir/rdp.pid" freerdp-shadow-
      stop_previous "$dir/xterm.pid" xterm
      stop_previous "$dir/xvfb.pid" Xvfb
    fi
  fi
fi

# The Linux operator panel. 13390: next to the workstation's port; the seed names it, the secret
# panel-7/rdp and the fingerprint file. Root only: xrdp's channel server mounts the session's
# drive with FUSE and keeps its socket in /run/xrdp/sockdir.
panel_port=13390
stop_previous "$dir/panel-xrdp.pid" xrdp
stop_previous "$dir/panel-chansrv.pid" xrdp-chansrv
stop_previous "$dir/panel-xterm.pid" xterm
stop_previous "$dir/panel-xvnc.pid" Xvnc
umount -l "$dir/panel-home/thinclient_drives" 2>/dev/null || true
missing_panel=""
for tool in Xvnc xterm xrdp xrdp-chansrv openssl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing_panel+=" $tool"
done
if [ "$(id -u)" -ne 0 ]; then
  echo "demo-targets: not root, so no Linux panel (its drive needs a FUSE mount); skipping" >&2
elif [ -n "$missing_panel" ]; then
  echo "demo-targets: no$missing_panel (scripts/deps.sh installs them); skipping the Linux panel" >&2
else
  rm -f "$dir/panel.display" "$dir/panel.fingerprint"
  # VNC on 127.0.0.1 only (15990: next to nothing standard), for xrdp alone.
  setsid Xvnc -displayfd 3 -geometry 1024x768 -depth 24 -rfbport 15990 -localhost \
    -SecurityTypes None -nolisten tcp 3>"$dir/panel.display" \
    </dev/null >"$dir/panel-xvnc.log" 2>&1 &
  echo $! > "$dir/panel-xvnc.pid"
  for _ in $(seq 100); do
    grep -q '^[0-9]' "$dir/panel.display" 2>/dev/null && break
    kill -0 "$(cat "$dir/panel-xvnc.pid")" 2>/dev/null || break
    sleep 0.1
  done
  panel_display=$(head -n 1 "$dir/panel.display" 2>/dev/null || true)
  if [ -z "$panel_display" ]; then
    echo "demo-targets: Xvnc did not start: $(tail -n 5 "$dir/panel-xvnc.log")" >&2
    stop_previous "$dir/panel-xvnc.pid" Xvnc
  else
    home="$dir/panel-home"
    mkdir -p "$home" /run/xrdp/sockdir && chmod 1777 /run/xrdp/sockdir
    rm -f "/run/xrdp/sockdir/xrdp_chansrv_socket_$panel_display" \
      "/run/xrdp/sockdir/xrdpapi_$panel_display" \
      "/run/xrdp/sockdir/xrdp_chansrv_audio_out_socket_$panel_display" \
      "/run/xrdp/sockdir/xrdp_chansrv_audio_in_socket_$panel_display"
    # The panel's chime: 0.3 s of 880 Hz, 44.1 kHz stereo PCM, written to xrdp-chansrv's sound
    # socket as pulseaudio's xrdp sink would (the socket is there while a session has sound).
    cat > "$dir/panel-chime.py" <<'PY'
import math, os, socket, struct, sys
path = "/run/xrdp/sockdir/xrdp_chansrv_audio_out_socket_" + sys.argv[1]
if not os.path.exists(path):
    sys.exit(0)
frames = b"".join(struct.pack("<hh", v, v) for v in (
    int(8000 * math.sin(2 * math.pi * 880 * i / 44100) * min(1, (13230 - i) / 2000))
    for i in range(13230)))
frames += b"\0" * (-len(frames) % 8192)  # chansrv plays whole 8 KiB blocks
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(struct.pack("<II", 0, 8 + len(frames)) + frames)
except OSError:
    pass
PY
    DISPLAY=":$panel_display" HOME="$home" CHANSRV_LOG_PATH="$dir" setsid xrdp-chansrv \
      </dev/null >"$dir/panel-chansrv.log" 2>&1 &
    echo $! > "$dir/panel-chansrv.pid"
    # The panel's screen: the session's drive as the panel sees it, and a trend file the panel
    # writes there every 10 s for the vendor to save, with a chime the vendor hears where the
    # session has sound. Read-only for the vendor (no shell).
    # shellcheck disable=SC2016  # expanded by the screen's own shell
    screen='trap "" INT QUIT TSTP; drive="$HOME/thinclient_drives/Conduit"; n=0
      chime="$PANEL_CHIME"; panel="$PANEL_DISPLAY"
      while :; do clear
        printf "%s\n" "LINUX OPERATOR PANEL panel-7 (demo)" \
          "plant-north / cell-3 / line 3 filling - reached through Conduit, recorded" "" \
          "The session drive (thinclient_drives/Conduit):"
        if [ -d "$drive" ]; then
          n=$((n + 1))
          if [ $((n % 5)) -eq 1 ]; then
            printf "time;TIC-101;PIC-7\n%s;%s;%s\n" "$(date -u +%FT%TZ)" \
              "$((70 + n % 5)).$((n % 10))" "2.$((n % 9))" > "$drive/trend-export.csv"
            python3 "$chime" "$panel" 2>/dev/null
          fi
          ls -l "$drive" | tail -n +2
        else
          echo "  (no drive: the policy of this session allows none)"
        fi
        sleep 2; done'
    DISPLAY=":$panel_display" setsid xterm -geometry 170x58+0+0 -title "panel-7" \
      -e env HOME="$home" PANEL_CHIME="$dir/panel-chime.py" PANEL_DISPLAY="$panel_display" \
      sh -c "$screen" </dev/null >"$dir/panel-xterm.log" 2>&1 &
    echo $! > "$dir/panel-xterm.pid"
    [ -f "$dir/panel-key.pem" ] || (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes \
      -days 3650 -subj /CN=panel-7 -keyout "$dir/panel-key.pem" -out "$dir/panel-cert.pem" \
      2>/dev/null)
    # Any account logs in (the VNC display asks nothing); the vault still holds a password, as
    # for any RDP endpoint.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' > "$dir/panel.password")
    "$conduit" vault --data-dir "$data" put panel-7/rdp --value-file "$dir/panel.password" \
      --description "demo Linux panel panel-7 (demo-targets.sh)" >/dev/null
    cat > "$dir/panel-xrdp.ini" <<INI
[Globals]
ini_version=1
fork=false
port=tcp://127.0.0.1:$panel_port
security_layer=tls
crypt_level=high
certificate=$dir/panel-cert.pem
key_file=$dir/panel-key.pem
ssl_protocols=TLSv1.2, TLSv1.3
autorun=vnc
allow_channels=true
max_bpp=32
[Logging]
LogFile=$dir/panel-xrdp.log
LogLevel=INFO
EnableSyslog=false
[Channels]
rdpdr=true
cliprdr=true
rdpsnd=true
drdynvc=false
rail=false
xrdpvr=false
[vnc]
name=vnc
lib=libvnc.so
username=na
password=ask
ip=127.0.0.1
port=15990
chansrvport=DISPLAY($panel_display)
INI
    setsid /usr/sbin/xrdp --nodaemon --config "$dir/panel-xrdp.ini" </dev/null \
      >"$dir/panel-xrdp.out" 2>&1 &
    echo $! > "$dir/panel-xrdp.pid"
    listening=no
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$panel_port") 2>/dev/null; then listening=yes; break; fi
      kill -0 "$(cat "$dir/panel-xrdp.pid")" 2>/dev/null || break
      sleep 0.1
    done
    if [ "$listening" = yes ]; then
      openssl x509 -in "$dir/panel-cert.pem" -outform DER | sha256sum | cut -d ' ' -f 1 \
        > "$dir/panel.fingerprint"
      echo "demo target: Linux panel on 127.0.0.1:$panel_port (xrdp, TLS; display :$panel_display;" \
        "the session drive appears in its screen)" >&2
    else
      echo "demo-targets: xrdp did not start: $(tail -n 5 "$dir/panel-xrdp.out")" >&2
      stop_previous "$dir/panel-xrdp.pid" xrdp
      stop_previous "$dir/panel-chansrv.pid" xrdp-chansrv
      stop_previous "$dir/panel-xterm.pid" xterm
      stop_previous "$dir/panel-xvnc.pid" Xvnc
    fi
  fi
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "demo-targets: not root, so no demo sshd (it needs its own account); skipping" >&2
  exit 0
fi
id conduit-demo >/dev/null 2>&1 || useradd -m -s /bin/bash conduit-demo
usermod -p '*' conduit-demo   # key/certificate logins only (useradd leaves the account locked)
[ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C conduit-demo-target \
  -f "$dir/ssh_host_ed25519_key"
"$conduit" vault --data-dir "$data" ssh-ca public-key > "$dir/user_ca.pub"
cat > "$dir/sshd_config" <<CONFIG
Port 2201
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
TrustedUserCAKeys $dir/user_ca.pub
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers conduit-demo
Subsystem sftp internal-sftp
PidFile $dir/sshd.pid
CONFIG
mkdir -p /run/sshd
if [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
  kill "$(cat "$dir/sshd.pid")" && sleep 0.5
fi
/usr/sbin/sshd -t -f "$dir/sshd_config"
/usr/sbin/sshd -f "$dir/sshd_config"
echo "demo target: sshd on 127.0.0.1:2201 (account conduit-demo, trusts the Conduit user CA)" >&2
