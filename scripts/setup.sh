#!/usr/bin/env bash
# Installs what mysqlbackup needs on a fresh Debian machine (as root). Without arguments, what
# the main job (scripts/demo.sh) needs: MariaDB server, client and mariabackup, openssl, tar,
# gzip, zstd, age. With --test, also what only the tests need: moto (an S3 server) in .venv,
# garage (a distributed S3 store, by cargo install), promtool (package prometheus),
# systemd-analyze for the contrib units, and a real MariaDB 11.8 (scripts/setup-mariadb11.sh).
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
test_parts=false
[ "${1:-}" = "--test" ] && test_parts=true

need_apt=()
bins="mariadbd:mariadb-server mariadb:mariadb-client mariabackup:mariadb-backup
      mbstream:mariadb-backup openssl:openssl tar:tar gzip:gzip sha1sum:coreutils
      zstd:zstd age:age python3:python3"
$test_parts && bins="$bins promtool:prometheus systemd-analyze:systemd script:bsdutils"
for bin in $bins; do
  cmd=${bin%%:*}; pkg=${bin##*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then need_apt+=("$pkg"); fi
done
if $test_parts && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $(printf '%s\n' "${need_apt[@]}" | sort -u)
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
if ! $test_parts; then echo "setup: ok (the main job's parts; --test adds the tests')" >&2; exit 0; fi

if [ ! -x .venv/bin/moto_server ]; then
  echo "setup: installing moto into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q 'moto[server]'
fi

# Garage, a self-hosted distributed S3 store: the store contract suite runs on a 3-node cluster.
if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
  echo "setup: installing garage (cargo install, several minutes)" >&2
  cargo install garage@2.5.0 --locked --quiet
fi
# A real MariaDB 11.8 (Debian trixie's, by debootstrap; ~2 minutes the first time) for the tests
# of the 11.x backup tool's file names and series.
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi
bash scripts/setup-mariadb11.sh >/dev/null
echo "setup: ok" >&2
