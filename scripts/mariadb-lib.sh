#!/usr/bin/env bash
# Throwaway MariaDB instances for the demo and bench scripts (sourced, not run): each lives in
# its own data dir with a my.cnf there, runs as root with socket auth, and is killed on exit.
#   mdb_new DIR PORT SERVER_ID [my.cnf line...]   install a data dir and write its my.cnf
#   mdb_start DIR                                  start it, wait (bounded) until it answers
#   mdb_stop DIR                                   stop it (if running), wait until it has exited
#   mdb_q DIR SQL                                  run SQL, print rows without headers

MDB_PIDS=()
trap 'for p in "${MDB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

mdb_new() {
  local dir=$1 port=$2 id=$3; shift 3
  mariadb-install-db --no-defaults --datadir="$dir" --user=root --skip-test-db \
    --auth-root-authentication-method=socket >/dev/null
  {
    cat <<CNF
[mysqld]
user=root
datadir=$dir
port=$port
bind-address=127.0.0.1
socket=$dir/mysql.sock
pid-file=$dir/mysql.pid
log-error=$dir/error.log
server-id=$id
log-bin=$dir/binlog
log-slave-updates
gtid-strict-mode=1
binlog-format=ROW
CNF
    printf '%s\n' "$@"
  } > "$dir/my.cnf"
}

mdb_start() {
  mariadbd --defaults-file="$1/my.cnf" >/dev/null 2>&1 &
  MDB_PIDS+=($!)
  for _ in $(seq 1 600); do
    mariadb --no-defaults -uroot -S "$1/mysql.sock" -e 'select 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on $1 did not start in 60 s: $(tail -5 "$1/error.log" 2>/dev/null)" >&2; exit 1
}

mdb_stop() {
  local pid; pid=$(cat "$1/mysql.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "server on $1 did not stop in 60 s" >&2; exit 1
}

mdb_q() { mariadb --no-defaults -uroot -S "$1/mysql.sock" -N -e "$2"; }
