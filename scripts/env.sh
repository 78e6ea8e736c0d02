# Shared setup for scripts/test and .ci/run: where builds go, and the services tests need.
# Sourced, not executed.

# Builds live outside the clone so a fresh clone rebuilds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/coex-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Store tests run on SQLite and on this PostgreSQL; they fail (never skip) if it is unreachable.
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# Starts the local PostgreSQL cluster when it is down and waits until it accepts connections.
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if [ -d /etc/postgresql ]; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && return 0
    sleep 1
  done
  echo "PostgreSQL is not reachable at 127.0.0.1:5432; the store tests need it" >&2
  return 1
}

# cargo-nextest is on the machine image; install it from crates.io when it is not.
ensure_nextest() {
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "== installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
}
