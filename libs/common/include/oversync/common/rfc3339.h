// File: oversync/common/rfc3339.h
//
// RFC 3339 timestamps as the protocol uses them (protocol.md §2.8).
#ifndef OVERSYNC_COMMON_RFC3339_H_
#define OVERSYNC_COMMON_RFC3339_H_

#include <string>
#include <string_view>

#include "oversync/common/clock.h"
#include "oversync/common/status.h"

namespace oversync {

// Go's time.RFC3339Nano in UTC: "2026-03-22T12:00:00Z", "2026-03-22T12:00:00.1234Z" (fraction
// trimmed of trailing zeros, up to 9 digits). Years outside 0000..9999 are clamped by Go's
// formatter too; callers never produce them.
std::string FormatRfc3339Nano(TimePoint t);

// Parses any RFC 3339 instant: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", 'T'/'Z' in
// either case, 1..9 fraction digits. Errors: kInvalidArgument.
Result<TimePoint> ParseRfc3339(std::string_view text);

}  // namespace oversync

#endif  // OVERSYNC_COMMON_RFC3339_H_
