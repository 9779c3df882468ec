#!/usr/bin/env bash
# Installs every Debian package Conduit needs to build, test and run its demo.
# Idempotent: when everything is present it prints nothing and does not touch apt.
set -euo pipefail

# One list, grouped by what needs it. Later modules add theirs here.
packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format
  # libraries (design.md section 2)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssh-dev libssl-dev libsqlite3-dev libsodium-dev libzstd-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev catch2 prometheus-cpp-dev
  # broker/notify: webhook delivery over HTTPS
  libcurl4-openssl-dev
  # policies/: IANA time zones for rule schedules (g++ 12's <chrono> has no locate_zone)
  libhowardhinnant-date-dev tzdata
  # real peers for integration tests and the demo
  openssl curl openssh-client openssh-server sudo
  # recorder/: exports checked with the real players and decoders; libFuzzer for the reader
  asciinema tshark clang libclang-rt-14-dev
  # recorder/: RDP recordings exported as H.264 MP4 video (ffmpeg with libx264)
  ffmpeg
  # portal/: TOTP enrolment QR codes; the web front end (npm) and its end-to-end tests in Chromium
  libqrencode-dev chromium wrk
  # ssh -L tunnels: the demo PLC (libmodbus) and a real Modbus client for the tests
  libmodbus-dev mbpoll
  # broker/rdp: the FreeRDP 2 client in its sandboxed worker, tile encoding (PNG, JPEG); a real
  # RDP server for the tests and the demo (FreeRDP's shadow server on Xvfb showing an xterm)
  freerdp2-dev libpng-dev libjpeg62-turbo-dev libseccomp-dev
  # broker/rdp: what a target prints (PostScript) becomes PDF with Ghostscript's library in a
  # sandboxed helper (libgs-dev); the gs command reads PDFs back in the tests
  libgs-dev ghostscript
  freerdp2-shadow-x11 winpr-utils xvfb xterm x11-apps
  # a second, independent RDP server for the worker's tests: xrdp (TLS) in front of TigerVNC,
  # whose clipboard the tests set and read with xclip
  xrdp tigervnc-standalone-server xclip
  # S7 tunnels: tests/s7peers builds node-snap7's native addon with node-gyp (make, g++, python3)
  python3
)
# Node.js and npm build the front end. Machines here bring Node.js 20 with its own npm (and its
# headers in /usr/include/node, which node-gyp uses); only where there is none, take Debian's,
# with the headers node-gyp needs (libnode-dev).
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm libnode-dev); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps.sh: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
