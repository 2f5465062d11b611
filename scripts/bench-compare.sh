#!/usr/bin/env bash
# Times mysqlbackup against what operators would use instead, on the same sysbench dataset,
# in one run, and prints wall time, CPU time, peak RSS (largest process), bytes written to
# the disk, and each figure's ratio to ours (median of RUNS runs):
#   backup  a. mysqlbackup backup (local store)
#           b. mariabackup --stream | gzip --fast | openssl des3 | tee >(sha1sum) > file
#           c. the original tool: mariabackup into a dir, tar | gzip --fast | openssl des3 > file, sha1sum
#   restore a. mysqlbackup restore (stream -> data dir, prepare, binlog apply)
#           b. openssl des3 -d | tar -xz, cat segments | mbstream -x, mariabackup --prepare
#   and mysqlbackup backup --output - > /dev/null, for the disk it writes when not storing locally
#   (the server's own writes, e.g. checkpoints, are counted too).
#   The modern format, in the same run:
#   backup  d. mysqlbackup backup with compression: zstd, encryption: age (local store)
#           d'. mysqlbackup backup --output - > file (the same sink as e: no fsync)
#           e. mariabackup --stream | zstd -1 -T2 | age -r PUB | tee >(sha1sum) > file
#   restore d. mysqlbackup restore of (d)
#           e. age -d | zstd -d | tar -x of (d), cat segments | mbstream -x, mariabackup --prepare
#   and the bare backup tool: mariabackup --stream > /dev/null (what no pipeline can beat).
# Runs alternate (a, b, c, d, e, then again), so a slow moment of the machine hits all alike;
# each figure is the median of RUNS runs (default 5). mysqlbackup's modern backup also reports
# each stage's busy time (seconds working, not waiting on a pipe): printed as medians.
# With BENCH_BEFORE_BIN=<an earlier mysqlbackup build>, its modern backup and restore run in
# the same rounds too (rows `*_before`), for before/after figures of a change.
# First, des3 alone against `openssl enc -des-ede3-cbc` on one core.
# Usage: scripts/bench-compare.sh [rows_per_table (8 tables; 500000 ~ 1 GiB)] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null 2>&1
command -v sysbench >/dev/null || apt-get install -y -q sysbench >/dev/null
cargo build --release --locked -q
BIN="$PWD/target/release/mysqlbackup"
ROWS=${1:-500000}; RUNS=${2:-5}
W=${BENCH_DIR:-/tmp/mysqlbackup-bench-compare}; P=33291
D="$W/data/mysql-$P"
source scripts/mariadb-lib.sh
mdb_stop "$D"
rm -rf "$W"; mkdir -p "$W/data" "$W/backup" "$W/tmp"
mdb_new "$D" "$P" 1 innodb-buffer-pool-size=512M innodb-log-file-size=512M "tmpdir=$W/tmp"
mdb_start "$D"
mdb_q "$D" "CREATE DATABASE sbtest"
sysbench oltp_read_write --db-driver=mysql --mysql-socket="$D/mysql.sock" --mysql-user=root \
  --mysql-db=sbtest --tables=8 --table-size="$ROWS" prepare >/dev/null
# The shell pipelines copy only the data, so the binlogs that loading wrote (as large as the
# data) are purged: all three then store the same thing. MariaDB keeps a binlog until InnoDB
# has checkpointed its transactions, so right after a big load PURGE may keep the last ones:
# retry until only the active binlog is left.
for _ in $(seq 90); do
  mdb_q "$D" "FLUSH BINARY LOGS; PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY"
  [ "$(mdb_q "$D" "SHOW BINARY LOGS" | wc -l)" -le 1 ] && break
  sleep 2
done
echo "binlogs left after purge: $(mdb_q "$D" "SHOW BINARY LOGS" | awk '{n++; s+=$2} END {print n " (" s " bytes)"}')"
echo "dataset: 8 x $ROWS rows, data dir $(du -sh "$D" | cut -f1); runs: $RUNS (median)"
head -c 24 /dev/urandom | base64 > "$W/key"; chmod 600 "$W/key"
cat > "$W/conf.yaml" <<CONF
mysql_base: /usr
host: bench
data_base: $W/data
backup_base: $W/backup
port: $P
instance_id: 1
des3_key_file: $W/key
backup_tool_tmpdir: $W/tmp
date_str: 2000_01_01
CONF
age-keygen -o "$W/agekey" 2>/dev/null; PUB=$(age-keygen -y "$W/agekey")
{ sed 's/^date_str: .*/date_str: 2000_01_02/' "$W/conf.yaml"
  printf 'compression: zstd\nencryption: age\nage_recipients: [%s]\nage_identity_file: %s\n' "$PUB" "$W/agekey"
} > "$W/modern.yaml"
BEFORE=${BENCH_BEFORE_BIN:-}
[ -n "$BEFORE" ] && sed 's/^date_str: .*/date_str: 2000_01_03/' "$W/modern.yaml" > "$W/before.yaml"
DEV=$(df --output=source "$W" | tail -1); DEV=$(basename "$(readlink -f "$DEV")")
written() { sync; awk -v d="$DEV" '$3 == d {print $10 * 512}' /proc/diskstats; }
# measure NAME CMD: appends "wall cpu rss written" to $W/NAME.txt
measure() {
  local name=$1; shift; local before; before=$(written)
  /usr/bin/time -f "%e %U %S %M" -o "$W/t" bash -c "$*" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
  local after; after=$(written)
  read -r wall user sys rss < "$W/t"
  echo "$wall $(echo "$user + $sys" | bc) $rss $((after - before))" >> "$W/$name.txt"
  # mysqlbackup logs its own peak RSS; the column above is the largest process of the run.
  sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$W/err" >> "$W/$name.self.txt"
  sed -n 's/.*this process wrote \([0-9]*\) bytes.*/\1/p' "$W/err" | awk '{print int($1 / 1048576)}' >> "$W/$name.selfw.txt"
}
# des3 alone, one core: `openssl enc -des-ede3-cbc` over 256 MiB vs our stage (criterion).
head -c $((256 << 20)) /dev/urandom > "$W/rand"
openssl_mibs() { /usr/bin/time -f "%e" -o "$W/t" openssl enc -des-ede3-cbc -pass file:"$W/key" -in "$W/rand" -out /dev/null 2>/dev/null
  echo "256 / $(cat "$W/t")" | bc -l; }
O1=$(openssl_mibs)
OURS=$(cargo bench -q --bench stages -- --noplot 'stage/des3-encrypt' 2>/dev/null | sed -n 's/.*thrpt: *\[[^ ]* [^ ]* \([0-9.]*\) MiB\/s.*/\1/p' | head -1)
O2=$(openssl_mibs); rm -f "$W/rand"
printf 'des3 encrypt, one core: openssl enc %.1f / %.1f MiB/s (before/after), mysqlbackup %.1f MiB/s: %.2fx\n' \
  "$O1" "$O2" "$OURS" "$(echo "$OURS * 2 / ($O1 + $O2)" | bc -l)"
MB="mariabackup --backup --stream=xbstream --user=root --socket=$D/mysql.sock --tmpdir=$W/tmp"
for i in $(seq 1 "$RUNS"); do
  rm -rf "$W/backup"/* "$W/b.des3" "$W/c.des3" "$W/cdir"
  measure backup_ours "$BIN -v --conf-path $W/conf.yaml backup"
  measure backup_ours_stdout "$BIN -v --conf-path $W/conf.yaml backup --output - > /dev/null"
  measure backup_shell "set -o pipefail; $MB 2>/dev/null | gzip --fast | openssl des3 -pass file:$W/key 2>/dev/null | tee >(sha1sum > $W/b.sha1) > $W/b.des3"
  measure backup_original "set -o pipefail; mariabackup --backup --user=root --socket=$D/mysql.sock --target-dir=$W/cdir 2>/dev/null && tar -c -C $W cdir | gzip --fast | openssl des3 -pass file:$W/key 2>/dev/null > $W/c.des3 && sha1sum $W/c.des3 >/dev/null && rm -rf $W/cdir"
  rm -f "$W/e.age"
  measure backup_bare "$MB 2>/dev/null > /dev/null"
  measure backup_modern "$BIN -v --conf-path $W/modern.yaml backup --json > $W/modern-report-$i.json"
  measure backup_modern_file "$BIN -v --conf-path $W/modern.yaml backup --output - > $W/d.age"
  measure backup_modern_shell "set -o pipefail; $MB 2>/dev/null | zstd -q -1 -T2 | age -r $PUB | tee >(sha1sum > $W/e.sha1) > $W/e.age"
  if [ -n "$BEFORE" ]; then measure backup_modern_before "$BEFORE --conf-path $W/before.yaml backup"; fi
done
ARCHIVE=$(find "$W/backup" -name '*.tgz.des3')
MODERN=$(find "$W/backup/2000_01_02" -name '*.tar.zst.age')
echo "stored bytes: ours $(stat -c %s "$ARCHIVE"), shell $(stat -c %s "$W/b.des3"), original $(stat -c %s "$W/c.des3")"
echo "stored bytes, modern: ours $(stat -c %s "$MODERN"), shell $(stat -c %s "$W/e.age") ($(echo "$(stat -c %s "$MODERN") / $(stat -c %s "$W/e.age")" | bc -l | cut -c1-5)x)"
mdb_stop "$D"; mv "$D" "$W/source-data"
for i in $(seq 1 "$RUNS"); do
  rm -rf "$D" "$W/shell"
  measure restore_ours "$BIN -v --conf-path $W/conf.yaml restore"
  rm -rf "$D"
  measure restore_shell "set -o pipefail; mkdir -p $W/shell/data && openssl des3 -d -pass file:$W/key < $ARCHIVE 2>/dev/null | tar -xz -C $W/shell && cat $W/shell/data.xbstream.* | mbstream -x -C $W/shell/data && mariabackup --prepare --target-dir=$W/shell/data 2>/dev/null"
  rm -rf "$D" "$W/shell"
  measure restore_modern "$BIN -v --conf-path $W/modern.yaml restore"
  rm -rf "$D"
  measure restore_modern_shell "set -o pipefail; mkdir -p $W/shell/data && age -d -i $W/agekey < $MODERN | zstd -q -d | tar -x -C $W/shell && cat $W/shell/data.xbstream.* | mbstream -x -C $W/shell/data && mariabackup --prepare --target-dir=$W/shell/data 2>/dev/null"
  if [ -n "$BEFORE" ]; then rm -rf "$D" "$W/shell"; measure restore_modern_before "$BEFORE --conf-path $W/before.yaml restore"; fi
done
rm -rf "$W/shell"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$2" '{print $c}' "$W/$1.txt" | median; }
row() { # name ours
  local w c r d; w=$(col "$1" 1); c=$(col "$1" 2); r=$(col "$1" 3); d=$(col "$1" 4)
  local ow oc or od; ow=$(col "$2" 1); oc=$(col "$2" 2); or=$(col "$2" 3); od=$(col "$2" 4)
  printf '%-18s %8.1f s %5.2fx  %8.1f s %5.2fx  %7d MiB %6.2fx  %8d MiB %7s\n' "$1" "$w" "$(echo "$w / $ow" | bc -l)" \
    "$c" "$(echo "$c / $oc" | bc -l)" $((r / 1024)) "$(echo "$r / $or" | bc -l)" $((d / 1048576)) \
    "$( [ "$od" -gt 0 ] && echo "$d $od" | awk '{printf "%.2fx", $1 / $2}' || echo "-")"
}
printf '%-18s %17s  %17s  %19s  %17s\n' "" "wall (ratio)" "cpu (ratio)" "peak RSS (ratio)" "disk written"
row backup_ours backup_ours; row backup_ours_stdout backup_ours; row backup_shell backup_ours; row backup_original backup_ours
row restore_ours restore_ours; row restore_shell restore_ours
row backup_modern backup_modern; row backup_modern_file backup_modern; row backup_modern_shell backup_modern; row backup_bare backup_modern
echo "modern backup to a file as the shell writes it (\`backup --output - > file\`, no fsync) against the shell: $(echo "$(col backup_modern_file 1) / $(col backup_modern_shell 1)" | bc -l | cut -c1-4)x; to the local store (fsync'd): $(echo "$(col backup_modern 1) / $(col backup_modern_shell 1)" | bc -l | cut -c1-4)x"
row restore_modern restore_modern; row restore_modern_shell restore_modern
if [ -n "$BEFORE" ]; then row backup_modern_before backup_modern; row restore_modern_before restore_modern; fi
echo "(ratio = figure / mysqlbackup's; peak RSS = largest process of the run; disk written from"
echo " /proc/diskstats of $DEV, after sync)"
echo "modern backup, each stage's busy seconds (median of $RUNS; the backup's wall time: $(col backup_modern 1) s):"
python3 - "$W" "$RUNS" <<'PY'
import json, statistics, sys
w, runs = sys.argv[1], int(sys.argv[2])
busy = {}
for i in range(1, runs + 1):
    for s in json.load(open(f"{w}/modern-report-{i}.json"))["stages"]:
        if s["busy_seconds"] is not None:
            busy.setdefault(s["name"], []).append((s["busy_seconds"], s["bytes_in"]))
for name, v in busy.items():
    b = statistics.median(x for x, _ in v)
    mib = statistics.median(n for _, n in v) / 2**20
    print(f"  {name:<12} {b:6.2f} s busy  {mib:8.0f} MiB in  {mib / b if b else 0:8.0f} MiB/s busy")
PY
for n in backup_ours backup_ours_stdout restore_ours backup_modern restore_modern; do
  echo "$n: mysqlbackup's own peak RSS $(median < "$W/$n.self.txt") MiB, own disk writes $(median < "$W/$n.selfw.txt") MiB"
done
