#!/usr/bin/env bash
# Rebuilds fuzz/corpus/<target>/ seeds from a real backup archive made by mysqlbackup
# (e.g. by scripts/demo.sh): cut to small pieces so the fuzzers start from real structure.
# Usage: scripts/fuzz-seed-corpus.sh ARCHIVE.tgz.des3 DES3_KEY_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=$1; KEY=$2
C=fuzz/corpus; W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p $C/des3_decrypt $C/gunzip $C/xbstream $C/extract $C/manifest $C/conf $C/binlog $C/mycnf $C/age_decrypt $C/zstd
head -c 4096 "$ARCHIVE" > $C/des3_decrypt/real-archive-head
printf 'small plaintext\n' | openssl des3 -pass pass:fuzz 2>/dev/null > $C/des3_decrypt/openssl-fuzz-key
openssl des3 -d -pass "file:$KEY" < "$ARCHIVE" 2>/dev/null > "$W/a.tgz"
head -c 8192 "$W/a.tgz" > $C/gunzip/real-archive-head
# The modern format's stages, from the same archive's tar: zstd, and zstd + age to the fuzz
# target's key (src/fuzzing.rs FUZZ_AGE_RECIPIENT).
AGE_RECIPIENT=$(grep -o "age1[a-z0-9]\{58\}" src/fuzzing.rs | head -1)
# (gunzip dies of SIGPIPE when head has enough: not an error)
{ gunzip -c "$W/a.tgz" || true; } | head -c 262144 > "$W/head.tar"
zstd -q -1 -c "$W/head.tar" > $C/zstd/real-tar-head.zst
zstd -q -1 -c "$W/head.tar" | age -r "$AGE_RECIPIENT" > $C/age_decrypt/real-tar-head.zst.age
printf 'small' | age -r "$AGE_RECIPIENT" > $C/age_decrypt/small
mkdir "$W/x"; tar -xzf "$W/a.tgz" -C "$W/x"
head -c 65536 "$W/x/data.xbstream.00000000" > $C/xbstream/real-segment-head
cp "$W/x/mysqlbackup-manifest.json" $C/manifest/real-manifest
cp "$W/x/my.cnf" $C/conf/real-my.cnf
cp conf.example.yaml $C/conf/conf.example.yaml
cp "$W/x/my.cnf" $C/mycnf/real-my.cnf
FIRST_BINLOG=$(ls "$W"/x/binlog/ | grep -v '\.index$' | head -1)
head -c 16384 "$W/x/binlog/$FIRST_BINLOG" > $C/binlog/real-binlog-head
# A small archive in our layout: the real my.cnf, a small real xbstream, the real index.
mkdir -p "$W/s/binlog" "$W/files"
printf 'ibdata' > "$W/files/ibdata1"; printf '1\t2\t0-1-2\n' > "$W/files/xtrabackup_binlog_info"
(cd "$W/files" && mbstream -c ibdata1 xtrabackup_binlog_info) > "$W/s/data.xbstream.00000000"
cp "$W/x/my.cnf" "$W/s/my.cnf"; cp "$W"/x/binlog/*.index "$W/s/binlog/"
cp "$W/x/mysqlbackup-manifest.json" "$W/s/"
tar -c -C "$W/s" my.cnf data.xbstream.00000000 binlog mysqlbackup-manifest.json > $C/extract/small-ours.tar
gzip -1 -c $C/extract/small-ours.tar > $C/extract/small-ours.tar.gz
# The original tool's layout.
mkdir -p "$W/o/mysql-3309-backup" "$W/o/mysql-3309-binlog"
cp "$W/x/my.cnf" "$W/o/mysql-3309-backup/"; printf 'binlog.000001\t4\n' > "$W/o/mysql-3309-backup/xtrabackup_binlog_info"
printf './binlog.000001\n' > "$W/o/mysql-3309-binlog/binlog.index"
tar -c -C "$W/o" mysql-3309-backup mysql-3309-binlog > $C/extract/small-original.tar
du -sh $C
