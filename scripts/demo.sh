#!/usr/bin/env bash
# The main job on a throwaway local MariaDB instance: set up, start an instance with some data,
# back it up into the local store (the embedded default), lose the instance, restore it with
# mysqlbackup restore, start it and compare table checksums.
# Everything lives under $DEMO_DIR (default /tmp/mysqlbackup-demo), wiped at each run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked
BIN="$PWD/target/release/mysqlbackup"

DEMO_DIR=${DEMO_DIR:-/tmp/mysqlbackup-demo}
PORT=${DEMO_PORT:-33091}
D="$DEMO_DIR/data/mysql-$PORT"
if [ -f "$D/mysql.pid" ]; then kill "$(cat "$D/mysql.pid")" 2>/dev/null || true; sleep 2; fi
rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR/data" "$DEMO_DIR/backup"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_server() { # datadir port
  mariadbd --defaults-file="$1/my.cnf" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    mariadb --no-defaults -uroot -S "$1/mysql.sock" -e 'select 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on $1 did not start" >&2; exit 1
}
write_cnf() { # datadir port server-id
  cat > "$1/my.cnf" <<CNF
[mysqld]
user=root
datadir=$1
port=$2
bind-address=127.0.0.1
socket=$1/mysql.sock
pid-file=$1/mysql.pid
log-error=$1/error.log
server-id=$3
log-bin=$1/binlog
log-slave-updates
gtid-strict-mode=1
binlog-format=ROW
CNF
}

echo "== starting a throwaway MariaDB on port $PORT"
mariadb-install-db --no-defaults --datadir="$D" --user=root --skip-test-db \
  --auth-root-authentication-method=socket >/dev/null
write_cnf "$D" "$PORT" 1
start_server "$D"
mariadb --no-defaults -uroot -S "$D/mysql.sock" -e "
  SET SESSION max_recursive_iterations = 1000000;
  CREATE DATABASE demo; CREATE TABLE demo.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT);
  INSERT INTO demo.t(v) SELECT MD5(n) FROM (WITH RECURSIVE s(n) AS
    (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) SELECT n FROM s) x;"

head -c 24 /dev/urandom | base64 > "$DEMO_DIR/des3_password"; chmod 600 "$DEMO_DIR/des3_password"
cat > "$DEMO_DIR/conf.yaml" <<CONF
mysql_base: /usr
host: $(hostname)
data_base: $DEMO_DIR/data
backup_base: $DEMO_DIR/backup
port: $PORT
instance_id: 1
CONF

ORIG=$(mariadb --no-defaults -uroot -S "$D/mysql.sock" -N -e 'CHECKSUM TABLE demo.t' | cut -f2)

echo "== mysqlbackup backup (local store)"
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" backup
ARCHIVE=$(find "$DEMO_DIR/backup" -name '*.tgz.des3')
(cd "$(dirname "$ARCHIVE")" && sha1sum -c "$(basename "$ARCHIVE").sha1")

echo "== the instance dies: stop it and move its data dir away"
kill "$(cat "$D/mysql.pid")"
for _ in $(seq 1 300); do [ -e "$D/mysql.pid" ] || break; sleep 0.1; done
mv "$D" "$DEMO_DIR/dead-mysql-$PORT"

echo "== mysqlbackup restore"
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" restore
start_server "$D"
COPY=$(mariadb --no-defaults -uroot -S "$D/mysql.sock" -N -e 'CHECKSUM TABLE demo.t' | cut -f2)
echo "checksum before backup=$ORIG after restore=$COPY"
[ "$ORIG" = "$COPY" ] && echo "== demo ok" || { echo "== demo FAILED: checksums differ"; exit 1; }
