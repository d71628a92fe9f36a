// File: apps/oversyncd/src/local_postgres.h
//
// A PostgreSQL cluster that oversyncd manages itself when DATABASE_URL is not set, so that
// `oversyncd` alone is a working server for demos and client tests.
//
// Lifecycle: Start() initdb's the data directory on first use, then either reuses a cluster
// that is already running on it (postmaster.pid present and its process alive; the port is
// read from postmaster.pid) or starts it with `pg_ctl start` on a free loopback port (TCP on
// 127.0.0.1 only, Unix socket inside the data directory), and creates the database if missing.
// Stop() runs `pg_ctl stop -m fast`, but only for a cluster this object started: a reused
// cluster belongs to whoever started it and is left running.
//
// initdb and pg_ctl refuse to run as root; when oversyncd runs as root they run as the
// `postgres` OS user through `runuser -u postgres --`, and the data directory is chown'ed to
// that user (its parent directories must be searchable by it).
//
// Thread-safety: thread-compatible (used from main only).
#ifndef OVERSYNC_OVERSYNCD_LOCAL_POSTGRES_H_
#define OVERSYNC_OVERSYNCD_LOCAL_POSTGRES_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::oversyncd {

struct LocalPostgresOptions {
  // Cluster data directory; made absolute against the current directory.
  std::filesystem::path data_dir;
  // Database created for oversyncd (superuser `postgres`, trust authentication on loopback).
  std::string database = "oversync";
  // Directory holding initdb/pg_ctl; empty = `pg_config --bindir`, then
  // /usr/lib/postgresql/15/bin.
  std::filesystem::path bin_dir;
};

class LocalPostgres {
  struct RunAs {
    bool via_runuser = false;  // we are root: run PostgreSQL tools as `postgres`
    uid_t uid = 0;
    gid_t gid = 0;
  };
  // Passkey: only Start() constructs.
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Errors: kUnavailable (no PostgreSQL binaries, no postgres OS user when root, initdb or
  // pg_ctl failed, database not reachable), kIo (data directory not creatable).
  static Result<std::unique_ptr<LocalPostgres>> Start(const LocalPostgresOptions& options);

  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;
  LocalPostgres(LocalPostgres&&) = delete;
  LocalPostgres& operator=(LocalPostgres&&) = delete;
  // Stops the cluster if this object started it (errors are logged).
  ~LocalPostgres();

  // libpq conninfo of the database: "host=127.0.0.1 port=P user=postgres dbname=oversync".
  const std::string& dsn() const noexcept { return dsn_; }
  std::uint16_t port() const noexcept { return port_; }
  bool started_by_us() const noexcept { return started_by_us_; }

  // Idempotent. Errors: kUnavailable if pg_ctl stop failed.
  Status Stop();

  // Internal (see PrivateTag); use Start().
  LocalPostgres(PrivateTag /*tag*/, std::filesystem::path data_dir, std::filesystem::path bin_dir,
                RunAs run_as)
      : data_dir_(std::move(data_dir)), bin_dir_(std::move(bin_dir)), run_as_(run_as) {}

 private:
  // argv prefixed with runuser when needed.
  std::vector<std::string> PgCommand(const std::string& tool, std::vector<std::string> args) const;
  Status InitDbIfNeeded();
  // True (and port_ set) if a live postmaster owns the data directory.
  bool AdoptRunningCluster();
  Status StartCluster();

  const std::filesystem::path data_dir_;
  const std::filesystem::path bin_dir_;
  const RunAs run_as_;
  std::uint16_t port_ = 0;
  bool started_by_us_ = false;
  bool stopped_ = false;
  std::string dsn_;
};

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_LOCAL_POSTGRES_H_
