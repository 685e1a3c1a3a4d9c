#!/bin/bash
# Install what the tests need, and only what is missing (idempotent; a no-op once installed).
# For Debian 12 as root.  Run by scripts/test.sh; safe to run by hand.
#
#   Debian packages: isc-dhcp-server (dhcpd and omshell: /usr/bin/omshell is in this package), isc-dhcp-client (dhclient), udhcpc, busybox,
#     dhcpcd-base (dhcpcd), isc-dhcp-relay (dhcrelay), kea-admin (perfdhcp), iproute2 (ip, ss),
#     tcpdump, procps, psmisc, python3, util-linux (nsenter, unshare)
#   cargo tools: cargo-fuzz, only if the repository has a fuzz/ crate
#
# Package installs must not start services on this machine (the DHCP server and relay would grab
# the host's interfaces): a policy-rc.d that forbids starting them is put in place for the install
# (and removed again if it was ours); on a systemd machine the units are disabled afterwards.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# package -> a file it installs (checked with dpkg so that a same-named tool elsewhere on PATH,
# e.g. a pyenv python3, does not hide a missing package)
declare -A PKG_FILE=(
  [isc-dhcp-server]=/usr/sbin/dhcpd
  [isc-dhcp-client]=/usr/sbin/dhclient
  [udhcpc]=/usr/sbin/udhcpc
  [busybox]=/bin/busybox
  [dhcpcd-base]=/usr/sbin/dhcpcd
  [isc-dhcp-relay]=/usr/sbin/dhcrelay
  [kea-admin]=/usr/sbin/perfdhcp
  [iproute2]=/usr/bin/ss
  [tcpdump]=/usr/bin/tcpdump
  [procps]=/usr/bin/pgrep
  [psmisc]=/usr/bin/fuser
  [python3]=/usr/bin/python3
  [util-linux]=/usr/bin/nsenter
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' ok installed$'; }

missing=()
for pkg in "${!PKG_FILE[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts during package installs\nexit 101\n' |
      $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  } || rc=$?
  [ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { echo "install-deps: apt-get failed ($rc)" >&2; exit "$rc"; }
  # Never let the packaged DHCP services run on the host: tests start their own, in namespaces.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in isc-dhcp-server isc-dhcp-server6 isc-dhcp-relay isc-dhcp-relay6; do
      $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
else
  echo "install-deps: Debian packages present"
fi

for pkg in "${!PKG_FILE[@]}"; do
  [ -e "${PKG_FILE[$pkg]}" ] || { echo "install-deps: $pkg is installed but ${PKG_FILE[$pkg]} is missing" >&2; exit 1; }
done

# Rust toolchain pieces the tests use (they come with rustup's default profile; they cannot be
# downloaded here if missing, so say so clearly).
if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found (install Rust with rustup first)" >&2
  exit 1
fi
for c in fmt clippy; do
  cargo "$c" --version >/dev/null 2>&1 || { echo "install-deps: cargo $c missing: rustup component add ${c/fmt/rustfmt}" >&2; exit 1; }
done

# cargo-fuzz (from crates.io), only when there is something to fuzz.
if [ -f "$REPO/fuzz/Cargo.toml" ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
echo "install-deps: ok"
