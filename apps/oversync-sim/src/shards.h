// File: apps/oversync-sim/src/shards.h
//
// Spreading one simulator run over several processes (SimOptions::processes). One process can
// hold only as many devices as its descriptor limit allows (a watching device needs about ten
// descriptors, the in-process server's side included); watch-all at 500 users runs 4,500
// devices. The parent keeps the server and starts one child per share of the users with
// --server; each child writes a JSON report (with raw latency samples) that the parent merges.
//
// Thread-safety: RunShards blocks the calling thread until every child has exited; `emit` is
// called from that thread only.
#ifndef OVERSYNC_SIM_SHARDS_H_
#define OVERSYNC_SIM_SHARDS_H_

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator.h"

namespace oversync::sim {

struct ShardPlan {
  std::filesystem::path executable;  // the oversync-sim binary to start
  std::string server_url;
  std::string database_url;  // empty = the children verify on the devices only
  std::string jwt_secret;
  std::string wire_profile;
  std::string scenario;
  std::string run_id;
  int users = 1;      // across all children
  int processes = 2;  // children; users are split into contiguous, nearly equal shares
  std::filesystem::path workdir;  // each child gets <workdir>/p<i> and writes <workdir>/p<i>.json
  bool discard_device_files = true;
  bool verbose = false;
};

// The first user index and user count of child `child` (0-based) of `plan`.
struct ShardShare {
  int first_user = 0;
  int users = 0;
};
ShardShare ShareOf(int users, int processes, int child);

// Starts every child, waits for all of them and returns one report per child. A child that
// could not be started, ended without a readable report or exited with status 2 (usage/setup
// error) contributes a report with one failed result named "process" that says why, so the run
// fails visibly instead of losing its users.
std::vector<SimReport> RunShards(const ShardPlan& plan,
                                 const std::function<void(std::string_view)>& emit);

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_SHARDS_H_
