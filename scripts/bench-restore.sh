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
for p in $P1 $P2; do [ -f "$W/data/mysql-$p/mysql.pid" ] && kill "$(cat "$W/data/mysql-$p/mysql.pid")" 2>/dev/null || true; done
sleep 2; rm -rf "$W"; mkdir -p "$W/data" "$W/backup" "$W/peer"
PIDS=(); trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT

cnf() { # dir port id
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
gtid-domain-id=$3
log-bin=$1/binlog
log-slave-updates
gtid-strict-mode=1
binlog-format=ROW
innodb-buffer-pool-size=512M
innodb-log-file-size=512M
tmpdir=$W
CNF
}
start() { mariadbd --defaults-file="$1/my.cnf" >/dev/null 2>&1 & PIDS+=($!)
  for _ in $(seq 1 600); do mariadb --no-defaults -uroot -S "$1/mysql.sock" -e 'select 1' >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }
q() { mariadb --no-defaults -uroot -S "$1/mysql.sock" -N -e "$2"; }
D1="$W/data/mysql-$P1"; D2="$W/peer/mysql-$P2"
for d in "$D1:$P1:1" "$D2:$P2:2"; do IFS=: read -r dir port id <<<"$d"
  mariadb-install-db --no-defaults --datadir="$dir" --user=root --skip-test-db --auth-root-authentication-method=socket >/dev/null
  cnf "$dir" "$port" "$id"; start "$dir"
  q "$dir" "SET sql_log_bin=0; CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'r'; GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'"
done
q "$D2" "CHANGE MASTER 'peer1' TO master_host='127.0.0.1', master_port=$P1, master_user='repl', master_password='r', master_use_gtid=slave_pos, master_connect_retry=1; START SLAVE 'peer1'"
q "$D1" "CREATE DATABASE sbtest"
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
measure backup "$BIN" --conf-path "$W/conf.yaml" backup
ls -l "$W"/backup/*/*/*.tgz.des3 | awk '{print "archive:", $5, "bytes"}'
q "$D1" "INSERT INTO sbtest.sbtest1 (k, c, pad) VALUES (1, 'after-backup', 'x')"
for _ in $(seq 1 600); do [ "$(q "$D2" "SELECT COUNT(*) FROM sbtest.sbtest1 WHERE c='after-backup'")" = 1 ] && break; sleep 0.1; done
kill "$(cat "$D1/mysql.pid")"; while [ -e "$D1/mysql.pid" ]; do sleep 0.2; done
mv "$D1" "$W/dead"
FS_BASE=$(df --output=used -B1 "$W" | tail -1)
( peak=0; while true; do u=$(df --output=used -B1 "$W" | tail -1); [ $((u - FS_BASE)) -gt $peak ] && peak=$((u - FS_BASE)); echo $peak > "$W/peak.txt"; sleep 0.2; done ) & SAMPLER=$!
echo "== restore"
measure restore "$BIN" --conf-path "$W/conf.yaml" restore
kill $SAMPLER
DATA=$(du -sb "$D1" | cut -f1); PEAK=$(cat "$W/peak.txt")
echo "restored data dir: $((DATA / 1048576)) MiB; peak extra disk during restore beyond it: $(( (PEAK - DATA) / 1048576 )) MiB (peak fs growth $((PEAK / 1048576)) MiB)"
echo "== catchup_binlog"
measure catchup "$BIN" --conf-path "$W/conf.yaml" catchup_binlog
start "$D1"
echo "after-backup row on restored instance: $(q "$D1" "SELECT COUNT(*) FROM sbtest.sbtest1 WHERE c='after-backup'")"
