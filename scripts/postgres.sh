# Sourced by scripts/test: start/stop a throwaway PostgreSQL cluster and export CRITIC_TEST_POSTGRES_URL.
start_test_postgres() {
  local bindir
  # A free loopback port unless PG_PORT is given, so several checkouts can each run their own cluster.
  PG_PORT=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] || return 1
  PG_DIR=$(mktemp -d /tmp/critic-pg.XXXXXX)
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U critic --auth=trust -E UTF8 >/dev/null || return 1
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null || return 1
  "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$PG_PORT" -U critic critic_test || return 1
  export CRITIC_TEST_POSTGRES_URL="postgresql+psycopg://critic@127.0.0.1:$PG_PORT/critic_test"
  PG_BINDIR=$bindir
  echo "PostgreSQL started at $CRITIC_TEST_POSTGRES_URL"
}
stop_test_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  local run=()
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
