#!/usr/bin/env bash
# Measures point-in-time recovery: a backup, then FILES rounds of writes (ROWS rows of a
# sysbench-like table each), each ended by FLUSH BINARY LOGS and `archive_binlog`; prints the
# archive's lag (seconds from a file's last event, i.e. its rotation, to stored: median and
# max) and the time of `restore --until latest` over the whole window of FILES binlog files.
# Usage: scripts/bench-pitr.sh [files (default 100)] [rows per file (default 2000)]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release --locked -q
BIN="$PWD/target/release/mysqlbackup"
FILES=${1:-100}; ROWS=${2:-2000}
W=${BENCH_DIR:-/tmp/mysqlbackup-bench-pitr}; P=33391
D="$W/data/mysql-$P"
source scripts/mariadb-lib.sh
mdb_stop "$D"
rm -rf "$W"; mkdir -p "$W/data" "$W/backup"
mdb_new "$D" "$P" 1 gtid-domain-id=1 innodb-buffer-pool-size=256M "tmpdir=$W"
mdb_start "$D"
mdb_q "$D" "CREATE DATABASE app; CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60))"
head -c 24 /dev/urandom | base64 > "$W/des3_password"; chmod 600 "$W/des3_password"
age-keygen -o "$W/agekey" 2>/dev/null; PUB=$(age-keygen -y "$W/agekey")
cat > "$W/conf.yaml" <<CONF
mysql_base: /usr
host: bench
data_base: $W/data
backup_base: $W/backup
port: $P
instance_id: 1
compression: zstd
encryption: age
age_recipients: [$PUB]
age_identity_file: $W/agekey
CONF
"$BIN" --conf-path "$W/conf.yaml" backup >/dev/null 2>&1
: > "$W/lags"
start=$(date +%s.%N)
for i in $(seq 1 "$FILES"); do
  mdb_q "$D" "INSERT INTO app.t(k, c, pad) SELECT seq, MD5(seq), MD5(RAND()) FROM app.seq_1_to_$ROWS; UPDATE app.t SET k = k + 1 WHERE id % 97 = $i % 97; FLUSH BINARY LOGS"
  "$BIN" --conf-path "$W/conf.yaml" archive_binlog --json 2>/dev/null \
    | python3 -c 'import json,sys; [print(a["lag_seconds"]) for a in json.load(sys.stdin)["archived"]]' >> "$W/lags"
done
took=$(echo "$(date +%s.%N) - $start" | bc)
python3 - "$W/lags" "$FILES" "$took" <<'PY'
import statistics, sys
lags = [float(l) for l in open(sys.argv[1]) if l.strip()]
print(f"archived {len(lags)} files in {float(sys.argv[3]):.1f} s ({sys.argv[2]} write rounds, each a rotation and an archive_binlog run)")
print(f"archive lag (rotation to stored): median {statistics.median(lags):.2f} s, max {max(lags):.2f} s")
PY
echo "binlog archived: $(du -sh "$W/backup/binlog" | cut -f1); data dir: $(du -sh "$D" | cut -f1)"
latest=$(mdb_q "$D" "SELECT @@gtid_binlog_pos"); rows=$(mdb_q "$D" "CHECKSUM TABLE app.t")
mdb_stop "$D"; mv "$D" "$W/lost"
/usr/bin/time -f "%e s wall, %U+%S s CPU, %M KiB peak RSS" -o "$W/t" \
  "$BIN" --conf-path "$W/conf.yaml" restore --until latest > "$W/restore.txt" 2>"$W/restore.err"
echo "restore --until latest over $FILES binlog files: $(cat "$W/t")"
grep -E "restored to|binlog files applied" "$W/restore.txt" | cut -c1-200
mdb_start "$D"
[ "$(mdb_q "$D" "SELECT @@gtid_binlog_pos")" = "$latest" ] && [ "$(mdb_q "$D" "CHECKSUM TABLE app.t")" = "$rows" ] \
  && echo "restored: the same GTID position ($latest) and table checksum" \
  || { echo "MISMATCH after restore"; exit 1; }
mdb_stop "$D"
