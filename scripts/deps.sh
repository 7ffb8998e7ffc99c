#!/usr/bin/env bash
# Installs what finlake needs to build and test on Debian/Ubuntu, idempotently:
# a C toolchain and headers for librdkafka, a MariaDB server for the source database,
# and the pinned Rust toolchain. Run by `make demo` and `make test`; safe to run again.
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

for pkg in build-essential pkg-config cmake zlib1g-dev libssl-dev libsasl2-dev libcurl4-openssl-dev \
           mariadb-server mariadb-client python3-venv; do
  pkg_installed "$pkg" || need_apt+=("$pkg")
done

if ((${#need_apt[@]})); then
  echo "deps: installing ${need_apt[*]}"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif have sudo && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "deps: missing Debian packages: ${need_apt[*]}" >&2
    echo "deps: this user cannot install them (not root, no passwordless sudo). Run:" >&2
    echo "      sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  # The package's own service is not used: finlake runs its private server (finlake db start).
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! have cargo; then
  echo "deps: no Rust toolchain. Install rustup (https://rustup.rs), then retry." >&2
  exit 1
fi
# rust-toolchain.toml pins 1.95.0. When the installed stable *is* 1.95.0, reuse it instead of
# downloading the same release again under its versioned name.
if ! rustup toolchain list 2>/dev/null | grep -q '^1.95.0'; then
  if rustc +stable --version 2>/dev/null | grep -q '^rustc 1.95.0 '; then
    stable_dir=$(rustc +stable --print sysroot)
    ln -sfn "$stable_dir" "$(dirname "$stable_dir")/1.95.0-$(rustc +stable -vV | sed -n 's/^host: //p')"
  else
    rustup toolchain install 1.95.0 --profile minimal --component rustfmt,clippy
  fi
fi
echo "deps: ok"
