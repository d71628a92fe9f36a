// File: apps/oversyncd/src/status_body.h
//
// The JSON body of GET /syncx/health and GET /syncx/status (protocol.md §3.13 StatusResponse,
// server.md §8.3), in the field order of Go's struct.
#ifndef OVERSYNC_OVERSYNCD_STATUS_BODY_H_
#define OVERSYNC_OVERSYNCD_STATUS_BODY_H_

#include <cstdint>
#include <string>

namespace oversync::oversyncd {

// Skeleton status: no sync runtime or schema exists yet, so registered_tables is [], features
// is {} and every int64 aggregate is 0. `healthy` = the service lifecycle is running: true gives
// status "healthy", lifecycle "running", accepting_operations true; false gives the only
// combination Go reports as unhealthy in practice: "unhealthy", "shutting_down", false
// (server.md §8.3). `inflight_operations` is reported as given. No trailing newline (see
// http::Response::Json). Thread-safe (pure).
std::string BuildStatusBody(bool healthy, std::int64_t inflight_operations = 0);

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_STATUS_BODY_H_
