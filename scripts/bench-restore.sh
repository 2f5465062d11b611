#!/usr/bin/env bash
# Measures the whole job on a sysbench dataset (default ~1 GiB): backup to the local store,
# restore, and catch-up from a peer that replicated the source, with wall time, CPU time, peak
# RSS, and the peak disk space used beyond the restored data dir during restore.
# Usage: scripts/bench-restore.sh [table_size]   (8 tables; 500000 rows each is ~1 GiB on disk)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v sysbench >/dev/null || { apt-get install -y -q sysbench; }
cargo build --release --locked -q
BIN="$PWD/target/release/mysqlbackup"
ROWS=${1:-500000}
W=${BENCH_DIR:-/tmp/mysqlbackup-bench}
P1=33191; P2=33192
D1="$W/data/mysql-$P1"; D2="$W/peer/mysql-$P2"
source scripts/mariadb-lib.sh
mdb_stop "$D1"; mdb_stop "$D2"
rm -rf "$W"; mkdir -p "$W/data" "$W/backup" "$W/peer"
for d in "$D1:$P1:1" "$D2:$P2:2"; do IFS=: read -r dir port id <<<"$d"
  mdb_new "$dir" "$port" "$id" "gtid-domain-id=$id" innodb-buffer-pool-size=512M \
    innodb-log-file-size=512M "tmpdir=$W"
  mdb_start "$dir"
  mdb_q "$dir" "SET sql_log_bin=0; CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'r'; GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'"
done
mdb_q "$D2" "CHANGE MASTER 'peer1' TO master_host='127.0.0.1', master_port=$P1, master_user='repl', master_password='r', master_use_gtid=slave_pos, master_connect_retry=1; START SLAVE 'peer1'"
mdb_q "$D1" "CREATE DATABASE sbtest"
echo "== sysbench prepare: 8 tables x $ROWS rows"
sysbench oltp_read_write --db-driver=mysql --mysql-socket="$D1/mysql.sock" --mysql-user=root \
  --mysql-db=sbtest --tables=8 --table-size="$ROWS" prepare >/dev/null
echo "data dir: $(du -sh "$D1" | cut -f1)"
head -c 24 /dev/urandom | base64 > "$W/des3_password"; chmod 600 "$W/des3_password"
cat > "$W/conf.yaml" <<CONF
mysql_base: /usr
host: bench
data_base: $W/data
backup_base: $W/backup
port: $P1
instance_id: 1
replication:
  user: repl
  password: r
  connect_retry: 1
  source:
    - {host: 127.0.0.1, port: $P2, id: 2}
CONF
measure() { # label cmd...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" "$@" >"$W/out.txt" 2>&1 || { cat "$W/out.txt"; exit 1; }
  read -r wall user sys rss < "$W/time.txt"
  printf '%-10s wall %7.1f s  cpu %7.1f s  peak RSS %6d MiB (largest process; %s)\n' "$label" "$wall" \
    "$(echo "$user + $sys" | bc)" $((rss / 1024)) "$(sed -n 's/.*INFO mysqlbackup: \(peak RSS.*\)/mysqlbackup: \1/p' "$W/out.txt")"
}
echo "== backup"
measure backup "$BIN" -v --conf-path "$W/conf.yaml" backup
ls -l "$W"/backup/*/*/*.tgz.des3 | awk '{print "archive:", $5, "bytes"}'
mdb_q "$D1" "INSERT INTO sbtest.sbtest1 (k, c, pad) VALUES (1, 'after-backup', 'x')"
for _ in $(seq 1 600); do [ "$(mdb_q "$D2" "SELECT COUNT(*) FROM sbtest.sbtest1 WHERE c='after-backup'")" = 1 ] && break; sleep 0.1; done
mdb_stop "$D1"
mv "$D1" "$W/dead"
FS_BASE=$(df --output=used -B1 "$W" | tail -1)
( peak=0; while true; do u=$(df --output=used -B1 "$W" | tail -1); [ $((u - FS_BASE)) -gt $peak ] && peak=$((u - FS_BASE)); echo $peak > "$W/peak.txt"; sleep 0.2; done ) & SAMPLER=$!
echo "== restore"
measure restore "$BIN" -v --conf-path "$W/conf.yaml" restore
kill $SAMPLER
DATA=$(du -sb "$D1" | cut -f1); PEAK=$(cat "$W/peak.txt")
echo "restored data dir: $((DATA / 1048576)) MiB; peak extra disk during restore beyond it: $(( (PEAK - DATA) / 1048576 )) MiB (peak fs growth $((PEAK / 1048576)) MiB)"
echo "== catchup_binlog"
measure catchup "$BIN" -v --conf-path "$W/conf.yaml" catchup_binlog
mdb_start "$D1"
echo "after-backup row on restored instance: $(mdb_q "$D1" "SELECT COUNT(*) FROM sbtest.sbtest1 WHERE c='after-backup'")"
