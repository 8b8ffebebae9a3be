#!/usr/bin/env bash
# Install Prometheus and promtool (Debian/Ubuntu package `prometheus`, 2.42 on Debian 12) for the
# rule checks and unit tests:
#
#   deploy/prometheus/install.sh
#   promtool check rules deploy/prometheus/rules/*.yml
#   promtool test rules deploy/prometheus/tests/*.yml
#
# Idempotent: when `promtool` and `prometheus` are already on PATH it only prints their versions.
# Otherwise: apt-get update (once), then apt-get install -y --no-install-recommends prometheus
# (without prometheus-node-exporter, which the package only recommends). Runs as root, or through
# sudo when not root. The package must not leave a Prometheus server running on this machine:
# service starts are refused during the install (policy-rc.d, only if none exists yet), and the
# package's own service is stopped afterwards, by its service manager or its init script's pid
# file, never by process name.
set -euo pipefail

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

have() {  # the command is on PATH and runs
  command -v "$1" >/dev/null 2>&1 && "$1" --version >/dev/null 2>&1
}

versions() {
  say "$(command -v promtool): $(promtool --version 2>&1 | head -n 1)"
  say "$(command -v prometheus): $(prometheus --version 2>&1 | head -n 1)"
}

if have promtool && have prometheus; then
  say "promtool and prometheus are already installed"
  versions
  exit 0
fi

command -v apt-get >/dev/null 2>&1 \
  || die "no apt-get here: install Prometheus >= 2.42 (prometheus and promtool on PATH) from https://prometheus.io/download/"

if [[ $(id -u) -eq 0 ]]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1; then
  AS_ROOT=(sudo)
else
  die "run as root (or install sudo): apt-get needs root"
fi

POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=0
restore_policy() {
  if ((OUR_POLICY)); then "${AS_ROOT[@]}" rm -f "$POLICY"; fi
}
trap restore_policy EXIT
if [[ ! -e $POLICY ]]; then
  # 101 = "action forbidden": invoke-rc.d and deb-systemd-invoke start nothing during the install.
  printf '#!/bin/sh\n# installed by salespulse deploy/prometheus/install.sh for the install only\nexit 101\n' \
    | "${AS_ROOT[@]}" tee "$POLICY" >/dev/null
  "${AS_ROOT[@]}" chmod 755 "$POLICY"
  OUR_POLICY=1
fi

APT=("${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
say "apt-get update"
"${APT[@]}" update -q
say "apt-get install prometheus"
"${APT[@]}" install -y -q --no-install-recommends prometheus

restore_policy
OUR_POLICY=0

# Belt and braces: stop the package's service if anything started it anyway.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  "${AS_ROOT[@]}" systemctl stop prometheus.service 2>/dev/null || true
elif [[ -x /etc/init.d/prometheus ]]; then
  # The init script stops its own daemon only (--pidfile /run/prometheus/prometheus.pid,
  # --exec /usr/bin/prometheus, --user prometheus); "not running" is fine.
  "${AS_ROOT[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

have promtool || die "promtool is still not on PATH (or does not run) after the install"
have prometheus || die "prometheus is still not on PATH (or does not run) after the install"
versions
