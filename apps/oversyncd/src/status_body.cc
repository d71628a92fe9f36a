#include "status_body.h"

#include "config.h"
#include "oversync/protocol/codec.h"

namespace oversync::oversyncd {

std::string BuildStatusBody(bool healthy, std::int64_t inflight_operations) {
  // The sync runtime (and with it registered tables, features and the bundle counters) is not
  // mounted yet, so those are truthfully empty/zero: no sync schema exists in this skeleton.
  protocol::StatusResponse status;
  status.status = healthy ? "healthy" : "unhealthy";
  status.app_name = std::string(kAppName);
  status.lifecycle = healthy ? "running" : "shutting_down";
  status.accepting_operations = healthy;
  status.inflight_operations = inflight_operations;
  return protocol::EncodeStatusResponse(status);
}

}  // namespace oversync::oversyncd
