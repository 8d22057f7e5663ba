#!/usr/bin/env bash
# A MySQL server for the MySQL store's tests, next to the machine's MariaDB: Debian stable has no
# MySQL package and sid's (`mysql-server-core`, MySQL 9.x) needs a newer C library than the
# host's, so it runs in a Debian sid chroot, built with debootstrap on first use and kept in
# $KRATOS_CI_CACHE (default /var/cache/kratos-ci) for later runs. The server listens on
# 127.0.0.1:$KRATOS_CI_MYSQL_PORT (default 3307), user root without a password.
#
# Measured on the 2-core CI machine: building the chroot (debootstrap and the MySQL packages)
# and initializing the data directory took 52 s, once (the chroot takes about 700 MiB);
# starting the server takes about 3 s, and nothing when it still runs from an earlier run.
set -euo pipefail

CACHE="${KRATOS_CI_CACHE:-/var/cache/kratos-ci}"
ROOT="$CACHE/mysql-sid"
PORT="${KRATOS_CI_MYSQL_PORT:-3307}"
MIRROR="${KRATOS_CI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '==> %s\n' "$*"; }

# Sid's Release file can be older than its Valid-Until on a mirror snapshot; its signature is
# still checked.
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false)

build_chroot() {
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq debootstrap >/dev/null
    fi
    # Built aside and moved in place at the end: an interrupted build is never reused.
    local tmp="$ROOT.tmp"
    rm -rf "$tmp"
    mkdir -p "$CACHE"
    log "building a Debian sid chroot for MySQL in $ROOT"
    debootstrap --variant=minbase sid "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 20 "$CACHE/debootstrap.log" >&2
        return 1
    }
    # apt's output (with its complaint that the chroot has no /dev/pts) only on failure.
    {
        chroot "$tmp" apt-get "${APT_OPTS[@]}" update -qq &&
            DEBIAN_FRONTEND=noninteractive chroot "$tmp" \
                apt-get "${APT_OPTS[@]}" install -y -qq mysql-server-core &&
            chroot "$tmp" apt-get clean
    } >"$CACHE/apt.log" 2>&1 || {
        tail -n 20 "$CACHE/apt.log" >&2
        return 1
    }
    mv "$tmp" "$ROOT"
}

ping_mysql() {
    mariadb-admin -h 127.0.0.1 -P "$PORT" -u root ping >/dev/null 2>&1
}

if [ ! -x "$ROOT/usr/sbin/mysqld" ]; then
    build_chroot
fi

if ! ping_mysql; then
    if [ ! -d "$ROOT/var/lib/mysql/mysql" ]; then
        log "initializing the MySQL data directory"
        rm -rf "$ROOT/var/lib/mysql"
        chroot "$ROOT" /usr/sbin/mysqld --no-defaults --user=root --datadir=/var/lib/mysql \
            --log-error=/var/lib/mysql/error.log --initialize-insecure
    fi
    log "starting MySQL on 127.0.0.1:$PORT"
    mkdir -p "$ROOT/run/mysqld"
    # In a session of its own, so that it outlives this script and the CI run's job control.
    # No binary log (MySQL writes one by default, MariaDB does not): nothing replicates from it
    # and it costs a second flush per commit. No performance schema (MariaDB's is off by
    # default too): after the tests the server held about 1 GiB with it, 480 MiB without.
    setsid chroot "$ROOT" /usr/sbin/mysqld --no-defaults --user=root --datadir=/var/lib/mysql \
        --secure-file-priv=NULL --log-error=/var/lib/mysql/error.log \
        --bind-address=127.0.0.1 --port="$PORT" --mysqlx=OFF --skip-log-bin \
        --performance-schema=OFF \
        --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid \
        </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 60); do
        ping_mysql && break
        sleep 1
    done
    if ! ping_mysql; then
        echo "MySQL did not start; the end of its log:" >&2
        tail -n 20 "$ROOT/var/lib/mysql/error.log" >&2
        exit 1
    fi
fi
version=$(mariadb -h 127.0.0.1 -P "$PORT" -u root -N -e 'SELECT VERSION()')
case "$version" in
*MariaDB*)
    echo "127.0.0.1:$PORT is MariaDB ($version), not MySQL" >&2
    exit 1
    ;;
esac
log "MySQL $version on 127.0.0.1:$PORT"
