#!/usr/bin/env bash
# Installs what mysqlbackup's demo and tests need on a fresh Debian machine (as root):
# MariaDB server, client and mariabackup, openssl/tar/gzip, moto (S3 server) in .venv, and
# garage (a distributed S3 store, by cargo install).
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for bin in mariadbd:mariadb-server mariadb:mariadb-client mariabackup:mariadb-backup \
           mbstream:mariadb-backup openssl:openssl tar:tar gzip:gzip sha1sum:coreutils \
           zstd:zstd age:age python3:python3; do
  cmd=${bin%%:*}; pkg=${bin##*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then need_apt+=("$pkg"); fi
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then need_apt+=(python3-venv); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $(printf '%s\n' "${need_apt[@]}" | sort -u)
fi

if [ ! -x .venv/bin/moto_server ]; then
  echo "setup: installing moto into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q 'moto[server]'
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust) is required" >&2; exit 1; }

# Garage, a self-hosted distributed S3 store: the store contract suite runs on a 3-node cluster.
if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
  echo "setup: installing garage (cargo install, several minutes)" >&2
  cargo install garage@2.5.0 --locked --quiet
fi
echo "setup: ok" >&2
