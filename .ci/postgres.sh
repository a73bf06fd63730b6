# Sourced by .ci/run: a throwaway PostgreSQL on 127.0.0.1 for the feedback-store tests.
# Installs Debian's postgresql when missing (root only), starts a private cluster in a temporary folder
# on a free loopback port, creates a user and a database, and exports MEDIMG_TEST_PG_URL. The cluster is
# stopped and deleted when .ci/run exits. Without it the PostgreSQL half of the storage tests is skipped,
# saying why. A MEDIMG_TEST_PG_URL already set (an existing server) is used as it is.

medimg_pg_start() {
  local bin dir port as_pg=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "PostgreSQL is not installed and this user cannot install it" >&2; return 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/medimg-pg.XXXXXX") || return 1
  if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root: run it as Debian's postgres user
    chown postgres: "$dir" && as_pg=(runuser -u postgres --) || return 1
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || return 1
  "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir" >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  MEDIMG_PG_STOP="${as_pg[*]} $bin/pg_ctl -D $dir/data -m fast stop"
  MEDIMG_PG_DIR=$dir
  "${as_pg[@]}" "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE medimg LOGIN PASSWORD 'medimg'" -c "CREATE DATABASE medimg_test OWNER medimg" || return 1
  export MEDIMG_TEST_PG_URL="postgresql://medimg:medimg@127.0.0.1:$port/medimg_test"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$port"
}

medimg_pg_stop() {
  [ -n "${MEDIMG_PG_STOP:-}" ] && $MEDIMG_PG_STOP >/dev/null 2>&1
  [ -n "${MEDIMG_PG_DIR:-}" ] && rm -rf "$MEDIMG_PG_DIR"
  return 0
}

if [ -z "${MEDIMG_TEST_PG_URL:-}" ]; then
  trap medimg_pg_stop EXIT
  medimg_pg_start || echo "No PostgreSQL for the tests: its storage tests will be skipped" >&2
fi
