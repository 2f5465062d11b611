#!/usr/bin/env bash
# The main job on a throwaway local MariaDB instance: set up, start an instance with some data,
# back it up into the local store (the embedded default), list and verify it, lose the instance,
# restore it with mysqlbackup restore, start it and compare table checksums.
# Everything lives under $DEMO_DIR (default /tmp/mysqlbackup-demo), wiped at each run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked
BIN="$PWD/target/release/mysqlbackup"

DEMO_DIR=${DEMO_DIR:-/tmp/mysqlbackup-demo}
PORT=${DEMO_PORT:-33091}
D="$DEMO_DIR/data/mysql-$PORT"
source scripts/mariadb-lib.sh
mdb_stop "$D"
rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR/data" "$DEMO_DIR/backup"

echo "== starting a throwaway MariaDB on port $PORT"
mdb_new "$D" "$PORT" 1
mdb_start "$D"
mdb_q "$D" "
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

ORIG=$(mdb_q "$D" 'CHECKSUM TABLE demo.t' | cut -f2)

echo "== mysqlbackup backup (local store)"
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" backup
ARCHIVE=$(find "$DEMO_DIR/backup" -name '*.tgz.des3')
# The record beside it (KEY.json, written last: the commit mark) holds the stored bytes' SHA-1.
WANT=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha1"])' "$ARCHIVE.json")
GOT=$(sha1sum "$ARCHIVE" | cut -d' ' -f1)
[ "$WANT" = "$GOT" ] && echo "sha1 $GOT: as its record says" || { echo "sha1 $GOT, record $WANT"; exit 1; }

echo "== mysqlbackup list, and verify --prepare (a scratch restore, checked, then removed)"
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" list
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" verify --prepare

echo "== the instance dies: stop it and move its data dir away"
mdb_stop "$D"
mv "$D" "$DEMO_DIR/dead-mysql-$PORT"

echo "== mysqlbackup restore"
"$BIN" --conf-path "$DEMO_DIR/conf.yaml" restore
mdb_start "$D"
COPY=$(mdb_q "$D" 'CHECKSUM TABLE demo.t' | cut -f2)
echo "checksum before backup=$ORIG after restore=$COPY"
[ "$ORIG" = "$COPY" ] && echo "== demo ok" || { echo "== demo FAILED: checksums differ"; exit 1; }
