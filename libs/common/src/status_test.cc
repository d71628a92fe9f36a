// Unit tests for oversync/common/status.h.
//
// The expected error table below is written out independently from protocol.md §5 ("Error
// catalogue"): one row per protocol error code with its HTTP status and retry class. It is
// deliberately NOT derived from status.cc, so a drift between the single table in status.cc and
// the spec fails here.
#include "oversync/common/status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace oversync {
namespace {

using EC = ErrorCode;
using RC = RetryClass;

// One row of protocol.md §5. `retry_class` is the class the spec lists first; `alt_class` is the
// second class for the compound entries ("S/F", "R/F"), where the single-valued table in
// status.cc may legitimately choose either.
struct SpecRow {
  EC code;
  std::string_view wire_name;
  int http_status;
  RC retry_class;
  RC alt_class;
};

constexpr RC kNoAlt = RC::kNone;

// protocol.md §5, transcribed row by row (retry classes: T transient, R restart,
// S state recovery, F fatal, X unexpected).
const std::vector<SpecRow>& SpecTable() {
  static const std::vector<SpecRow> kRows = {
      // "S (re-auth)"
      {EC::kAuthenticationFailed, "authentication_failed", 401, RC::kStateRecovery, kNoAlt},
      {EC::kInvalidRequest, "invalid_request", 400, RC::kFatal, kNoAlt},
      {EC::kMethodNotAllowed, "method_not_allowed", 405, RC::kFatal, kNoAlt},
      {EC::kServiceUnavailable, "service_unavailable", 503, RC::kTransient, kNoAlt},
      {EC::kConnectInvalid, "connect_invalid", 400, RC::kFatal, kNoAlt},
      {EC::kConnectFailed, "connect_failed", 500, RC::kUnexpected, kNoAlt},
      // "F (last one: drop the stale initialization id, S)": the code-level class is F.
      {EC::kPushSessionInvalid, "push_session_invalid", 400, RC::kFatal, kNoAlt},
      {EC::kScopeUninitialized, "scope_uninitialized", 409, RC::kStateRecovery, kNoAlt},
      {EC::kScopeInitializing, "scope_initializing", 409, RC::kStateRecovery, kNoAlt},
      {EC::kInitializationStale, "initialization_stale", 409, RC::kStateRecovery, kNoAlt},
      {EC::kInitializationExpired, "initialization_expired", 410, RC::kStateRecovery, kNoAlt},
      {EC::kHistoryPruned, "history_pruned", 409, RC::kStateRecovery, kNoAlt},
      {EC::kSourceSequenceOutOfOrder, "source_sequence_out_of_order", 409, RC::kStateRecovery,
       kNoAlt},
      {EC::kSourceSequenceChanged, "source_sequence_changed", 409, RC::kStateRecovery, kNoAlt},
      {EC::kSourceRetired, "source_retired", 409, RC::kStateRecovery, kNoAlt},
      // "S/F (choose a fresh replacement id)"
      {EC::kSourceReplacementInvalid, "source_replacement_invalid", 409, RC::kStateRecovery,
       RC::kFatal},
      {EC::kPushSessionCreateFailed, "push_session_create_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kPushChunkInvalid, "push_chunk_invalid", 400, RC::kFatal, kNoAlt},
      {EC::kPushChunkOutOfOrder, "push_chunk_out_of_order", 409, RC::kRestart, kNoAlt},
      {EC::kPushSessionNotFound, "push_session_not_found", 404, RC::kRestart, kNoAlt},
      {EC::kPushSessionExpired, "push_session_expired", 410, RC::kRestart, kNoAlt},
      {EC::kPushSessionForbidden, "push_session_forbidden", 403, RC::kFatal, kNoAlt},
      {EC::kPushChunkFailed, "push_chunk_failed", 500, RC::kUnexpected, kNoAlt},
      // "R/F"
      {EC::kPushCommitInvalid, "push_commit_invalid", 400, RC::kRestart, RC::kFatal},
      {EC::kPushConflict, "push_conflict", 409, RC::kStateRecovery, kNoAlt},
      {EC::kPushSessionCommitFailed, "push_session_commit_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kPushSessionDeleteFailed, "push_session_delete_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kCommittedBundleChunkInvalid, "committed_bundle_chunk_invalid", 400, RC::kFatal,
       kNoAlt},
      // "F (Kotlin retries up to 6x ...)"
      {EC::kCommittedBundleNotFound, "committed_bundle_not_found", 404, RC::kFatal, kNoAlt},
      {EC::kCommittedBundleRowsFailed, "committed_bundle_rows_failed", 500, RC::kUnexpected,
       kNoAlt},
      {EC::kPullFailed, "pull_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kBundleChangeWatchForbidden, "bundle_change_watch_forbidden", 403, RC::kFatal, kNoAlt},
      // "F-ish"
      {EC::kBundleChangeWatchDisabled, "bundle_change_watch_disabled", 503, RC::kFatal, kNoAlt},
      {EC::kBundleChangeWatchFailed, "bundle_change_watch_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kSnapshotSessionInvalid, "snapshot_session_invalid", 400, RC::kFatal, kNoAlt},
      {EC::kSnapshotSessionCreateFailed, "snapshot_session_create_failed", 500, RC::kUnexpected,
       kNoAlt},
      {EC::kSnapshotChunkInvalid, "snapshot_chunk_invalid", 400, RC::kFatal, kNoAlt},
      {EC::kSnapshotSessionNotFound, "snapshot_session_not_found", 404, RC::kRestart, kNoAlt},
      {EC::kSnapshotSessionExpired, "snapshot_session_expired", 410, RC::kRestart, kNoAlt},
      {EC::kSnapshotSessionForbidden, "snapshot_session_forbidden", 403, RC::kFatal, kNoAlt},
      {EC::kSnapshotChunkFailed, "snapshot_chunk_failed", 500, RC::kUnexpected, kNoAlt},
      {EC::kSnapshotSessionDeleteFailed, "snapshot_session_delete_failed", 500, RC::kUnexpected,
       kNoAlt},
      // "status_failed / health_failed | 500 | ... | T"
      {EC::kStatusFailed, "status_failed", 500, RC::kTransient, kNoAlt},
      {EC::kHealthFailed, "health_failed", 500, RC::kTransient, kNoAlt},
      // protocol-b.md §6.1 (profile B only), classes from its "Client reaction" column:
      // rebuild (S), retry after Retry-After (T), terminal (F), restart with create (R), 5xx (X).
      {EC::kCheckpointAhead, "checkpoint_ahead", 409, RC::kStateRecovery, kNoAlt},
      {EC::kSnapshotBuildCapacity, "snapshot_build_capacity", 429, RC::kTransient, kNoAlt},
      {EC::kSnapshotChunkCapacity, "snapshot_chunk_capacity", 429, RC::kTransient, kNoAlt},
      {EC::kSnapshotChunkTooSmall, "snapshot_chunk_too_small", 400, RC::kFatal, kNoAlt},
      {EC::kSnapshotSessionLimitExceeded, "snapshot_session_limit_exceeded", 409, RC::kFatal,
       kNoAlt},
      {EC::kCommitOutcomeUnknown, "commit_outcome_unknown", 503, RC::kRestart, kNoAlt},
      {EC::kSourceRetiredInvalid, "source_retired_invalid", 500, RC::kUnexpected, kNoAlt},
  };
  return kRows;
}

// Internal codes (status.h): never on the wire under their own name.
constexpr EC kInternalCodes[] = {EC::kInternal,  EC::kInvalidArgument,   EC::kUnavailable,
                                 EC::kDatabase,  EC::kIo,                EC::kProtocolViolation,
                                 EC::kCancelled, EC::kDeadlineExceeded,  EC::kUnsupportedSchema,
                                 EC::kFailedPrecondition};

std::string Describe(const SpecRow& row) { return std::string(row.wire_name); }

// ---------------------------------------------------------------------------------------------
// The error table (protocol.md §5)

// protocol.md §5 and protocol-b.md §6.1: every protocol code is listed in the spec table exactly
// once, and every protocol enumerator (kAuthenticationFailed..kSourceRetiredInvalid) is covered.
TEST(ErrorTable, SpecTableCoversEveryProtocolEnumerator) {
  std::set<EC> seen;
  std::set<std::string_view> names;
  for (const SpecRow& row : SpecTable()) {
    EXPECT_TRUE(seen.insert(row.code).second) << "duplicate code row " << Describe(row);
    EXPECT_TRUE(names.insert(row.wire_name).second) << "duplicate wire name " << Describe(row);
  }
  const auto first = static_cast<unsigned>(EC::kAuthenticationFailed);
  const auto last = static_cast<unsigned>(EC::kSourceRetiredInvalid);
  EXPECT_EQ(SpecTable().size(), last - first + 1);
  for (unsigned v = first; v <= last; ++v) {
    EXPECT_EQ(seen.count(static_cast<EC>(v)), 1U) << "enumerator " << v << " has no spec row";
  }
  // protocol.md §5 has 43 rows listing 44 distinct codes (status_failed / health_failed share
  // a row); protocol-b.md §6.1 adds 7.
  EXPECT_EQ(SpecTable().size(), 51U);
}

// protocol.md §5: wire name, HTTP status and retry class of every protocol code.
TEST(ErrorTable, EveryProtocolCodeMatchesSpec) {
  for (const SpecRow& row : SpecTable()) {
    SCOPED_TRACE(Describe(row));
    const ErrorInfo& info = ErrorInfoFor(row.code);
    EXPECT_EQ(info.code, row.code);
    EXPECT_EQ(info.wire_name, row.wire_name);
    EXPECT_EQ(info.http_status, row.http_status);
    if (row.alt_class == kNoAlt) {
      EXPECT_EQ(info.retry_class, row.retry_class);
    } else {
      EXPECT_TRUE(info.retry_class == row.retry_class || info.retry_class == row.alt_class)
          << "retry class " << static_cast<int>(info.retry_class);
    }
  }
}

// protocol.md §5 retry class T: exactly the transient codes are retryable (IsRetryable).
TEST(ErrorTable, IsRetryableExactlyForTransientProtocolCodes) {
  for (const SpecRow& row : SpecTable()) {
    SCOPED_TRACE(Describe(row));
    EXPECT_EQ(IsRetryable(row.code), row.retry_class == RC::kTransient);
  }
  EXPECT_TRUE(IsRetryable(EC::kServiceUnavailable));
  EXPECT_TRUE(IsRetryable(EC::kStatusFailed));
  EXPECT_FALSE(IsRetryable(EC::kOk));
  EXPECT_FALSE(IsRetryable(EC::kPushConflict));
}

// protocol.md §5: wire name -> code round trip for every protocol code.
TEST(ErrorTable, WireNameRoundTripForEveryProtocolCode) {
  for (const SpecRow& row : SpecTable()) {
    SCOPED_TRACE(Describe(row));
    EXPECT_EQ(ErrorCodeFromWireName(row.wire_name), row.code);
    EXPECT_EQ(ErrorCodeFromWireName(ErrorInfoFor(row.code).wire_name), row.code);
  }
}

// status.h: names the table does not know resolve to kInternal (including near misses, "ok"
// and the shared "internal_error").
TEST(ErrorTable, UnknownWireNameIsInternal) {
  for (const std::string_view name :
       {"", "ok", "no_such_error", "HISTORY_PRUNED", "history_pruned ", " history_pruned",
        "history-pruned", "schema_version_mismatch", "internal_error"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ErrorCodeFromWireName(name), EC::kInternal);
  }
  const std::string with_nul("history_pruned\0", 15);
  EXPECT_EQ(ErrorCodeFromWireName(with_nul), EC::kInternal);
}

// status.h: internal codes share the wire name "internal_error".
TEST(ErrorTable, InternalCodesUseInternalErrorWireName) {
  for (const EC code : kInternalCodes) {
    SCOPED_TRACE(static_cast<int>(code));
    const ErrorInfo& info = ErrorInfoFor(code);
    EXPECT_EQ(info.code, code);
    EXPECT_EQ(info.wire_name, "internal_error");
    EXPECT_GE(info.http_status, 500);
    EXPECT_LE(info.http_status, 599);
    EXPECT_NE(info.retry_class, RC::kNone);
  }
  EXPECT_EQ(ErrorInfoFor(EC::kInternal).http_status, 500);
  EXPECT_EQ(ErrorInfoFor(EC::kInternal).retry_class, RC::kUnexpected);
}

// status.h transport-level codes: unknown route and oversized body (not §5 sync codes).
TEST(ErrorTable, TransportCodes) {
  EXPECT_EQ(ErrorInfoFor(EC::kNotFound).http_status, 404);
  EXPECT_EQ(ErrorInfoFor(EC::kPayloadTooLarge).http_status, 413);
  EXPECT_EQ(ErrorCodeFromWireName(ErrorInfoFor(EC::kNotFound).wire_name), EC::kNotFound);
  EXPECT_EQ(ErrorCodeFromWireName(ErrorInfoFor(EC::kPayloadTooLarge).wire_name),
            EC::kPayloadTooLarge);
}

// status.h: kOk's entry is "not an error"; out-of-range values get kInternal's entry.
TEST(ErrorTable, OkAndOutOfRangeEntries) {
  const ErrorInfo& ok = ErrorInfoFor(EC::kOk);
  EXPECT_EQ(ok.code, EC::kOk);
  EXPECT_EQ(ok.retry_class, RC::kNone);
  EXPECT_EQ(ok.http_status, 200);

  const ErrorInfo& bogus = ErrorInfoFor(static_cast<EC>(std::uint8_t{250}));
  EXPECT_EQ(&bogus, &ErrorInfoFor(EC::kInternal));
  EXPECT_EQ(bogus.code, EC::kInternal);
  EXPECT_EQ(bogus.wire_name, "internal_error");
}

// ---------------------------------------------------------------------------------------------
// Status

// status.h: OK is free and has an empty message.
TEST(Status, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), EC::kOk);
  EXPECT_TRUE(s.message().empty());
  EXPECT_EQ(&s.info(), &ErrorInfoFor(EC::kOk));
  EXPECT_EQ(s, Status::Ok());
  EXPECT_EQ(s.ToString(), "ok");
  // "OK (free: no allocation)": one pointer, no heap state.
  EXPECT_EQ(sizeof(Status), sizeof(void*));
}

// status.h: constructing with kOk yields OK and drops the message.
TEST(Status, OkCodeWithMessageIsPlainOk) {
  const Status s(EC::kOk, "ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(s.message().empty());
  EXPECT_EQ(s, Status());
}

TEST(Status, ErrorCarriesCodeMessageAndInfo) {
  const Status s(EC::kPushChunkInvalid, "rows must not be empty");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), EC::kPushChunkInvalid);
  EXPECT_EQ(s.message(), "rows must not be empty");
  EXPECT_EQ(s.info().wire_name, "push_chunk_invalid");
  EXPECT_EQ(s.info().http_status, 400);
  const Status empty_message(EC::kInternal, "");
  EXPECT_FALSE(empty_message.ok());
  EXPECT_TRUE(empty_message.message().empty());
}

TEST(Status, Equality) {
  EXPECT_EQ(Status(EC::kIo, "x"), Status(EC::kIo, "x"));
  EXPECT_FALSE(Status(EC::kIo, "x") == Status(EC::kIo, "y"));
  EXPECT_FALSE(Status(EC::kIo, "x") == Status(EC::kDatabase, "x"));
  EXPECT_FALSE(Status(EC::kIo, "") == Status());
}

TEST(Status, CopyIsDeep) {
  const Status original(EC::kHistoryPruned, "floor 7");
  Status copy(original);
  EXPECT_EQ(copy, original);
  EXPECT_NE(&copy.message(), &original.message());

  Status assigned(EC::kIo, "other");
  assigned = original;
  EXPECT_EQ(assigned, original);

  Status to_ok(EC::kIo, "other");
  to_ok = Status();
  EXPECT_TRUE(to_ok.ok());

  Status from_ok;
  from_ok = original;
  EXPECT_EQ(from_ok.code(), EC::kHistoryPruned);
  EXPECT_EQ(from_ok.message(), "floor 7");

  // Self-assignment through a reference (avoids -Wself-assign-overloaded).
  Status& self = assigned;
  assigned = self;
  EXPECT_EQ(assigned, original);

  const Status ok_copy(Status{});
  EXPECT_TRUE(ok_copy.ok());
}

TEST(Status, MoveTransfersState) {
  Status source(EC::kPushConflict, "conflict on users");
  const Status moved(std::move(source));
  EXPECT_EQ(moved.code(), EC::kPushConflict);
  EXPECT_EQ(moved.message(), "conflict on users");

  Status target;
  Status another(EC::kCancelled, "stop");
  target = std::move(another);
  EXPECT_EQ(target.code(), EC::kCancelled);
  EXPECT_EQ(target.message(), "stop");
}

// status.h: WithContext prefixes "<context>: "; OK stays OK; the original is unchanged.
TEST(Status, WithContext) {
  const Status s(EC::kDatabase, "connection reset");
  const Status wrapped = s.WithContext("commit push session");
  EXPECT_EQ(wrapped.code(), EC::kDatabase);
  EXPECT_EQ(wrapped.message(), "commit push session: connection reset");
  EXPECT_EQ(s.message(), "connection reset");

  const Status twice = wrapped.WithContext("sync");
  EXPECT_EQ(twice.message(), "sync: commit push session: connection reset");

  const Status ok = Status().WithContext("anything");
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(ok.message().empty());

  EXPECT_EQ(Status(EC::kIo, "m").WithContext("").message(), ": m");
}

// status.h: ToString is "<wire name>: <message>" or "ok".
TEST(Status, ToString) {
  EXPECT_EQ(Status(EC::kPushChunkInvalid, "rows must not be empty").ToString(),
            "push_chunk_invalid: rows must not be empty");
  // Internal codes share the wire name "internal_error"; logs name the code instead.
  EXPECT_EQ(Status(EC::kInvalidArgument, "bad").ToString(), "invalid_argument: bad");
  EXPECT_EQ(Status(EC::kFailedPrecondition, "busy").ToString(), "failed_precondition: busy");
  EXPECT_EQ(Status(EC::kInternal, "bug").ToString(), "internal_error: bug");
  EXPECT_EQ(Status().ToString(), "ok");
  EXPECT_EQ(Status(EC::kHistoryPruned, "").ToString(), "history_pruned: ");
}

// status.h: Error(...) builds the error side; a Status converts from it.
TEST(Status, ErrorHelperAndConversion) {
  const Result<int> r = Error(EC::kPullFailed, "boom");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), EC::kPullFailed);
  EXPECT_EQ(r.error().message(), "boom");

  const Status s = Error(EC::kIo, "disk");
  EXPECT_EQ(s, Status(EC::kIo, "disk"));

  const Status from_status = Error(Status(EC::kCancelled, "c"));
  EXPECT_EQ(from_status, Status(EC::kCancelled, "c"));
}

// ---------------------------------------------------------------------------------------------
// OVERSYNC_RETURN_IF_ERROR / OVERSYNC_ASSIGN_OR_RETURN

Status StatusStep(bool fail, int& calls) {
  ++calls;
  if (fail) return Status(EC::kIo, "step failed");
  return Status::Ok();
}

Result<int> ResultStep(bool fail, int value, int& calls) {
  ++calls;
  if (fail) return Error(EC::kDatabase, "result failed");
  return value;
}

Result<std::unique_ptr<int>> MoveOnlyStep(int value) { return std::make_unique<int>(value); }

// RETURN_IF_ERROR on Status inside a Status-returning function.
Status StatusFnWithStatus(bool fail, int& calls, bool& reached_end) {
  OVERSYNC_RETURN_IF_ERROR(StatusStep(fail, calls));
  reached_end = true;
  return Status::Ok();
}

// RETURN_IF_ERROR on Result<T> inside a Status-returning function.
Status StatusFnWithResult(bool fail, int& calls, bool& reached_end) {
  OVERSYNC_RETURN_IF_ERROR(ResultStep(fail, 1, calls));
  reached_end = true;
  return Status::Ok();
}

// RETURN_IF_ERROR on Status and Result<T> inside a Result<U>-returning function.
Result<std::string> ResultFnWithBoth(bool fail_status, bool fail_result, int& calls) {
  OVERSYNC_RETURN_IF_ERROR(StatusStep(fail_status, calls));
  OVERSYNC_RETURN_IF_ERROR(ResultStep(fail_result, 2, calls));
  return std::string("done");
}

// ASSIGN_OR_RETURN inside a Result<U>-returning function (declaration and assignment forms;
// two uses in one function need distinct temporaries).
Result<int> ResultFnAssign(bool fail_first, bool fail_second, int& calls) {
  OVERSYNC_ASSIGN_OR_RETURN(const int a, ResultStep(fail_first, 20, calls));
  int b = 0;
  OVERSYNC_ASSIGN_OR_RETURN(b, ResultStep(fail_second, 22, calls));
  return a + b;
}

// ASSIGN_OR_RETURN inside a Status-returning function.
Status StatusFnAssign(bool fail, int& calls, int& out) {
  OVERSYNC_ASSIGN_OR_RETURN(out, ResultStep(fail, 7, calls));
  return Status::Ok();
}

// ASSIGN_OR_RETURN with a move-only value.
Result<int> MoveOnlyFn(int v) {
  OVERSYNC_ASSIGN_OR_RETURN(std::unique_ptr<int> p, MoveOnlyStep(v));
  return *p + 1;
}

TEST(Macros, ReturnIfErrorInStatusFunction) {
  int calls = 0;
  bool reached = false;
  EXPECT_TRUE(StatusFnWithStatus(false, calls, reached).ok());
  EXPECT_TRUE(reached);
  EXPECT_EQ(calls, 1);

  reached = false;
  const Status failed = StatusFnWithStatus(true, calls, reached);
  EXPECT_EQ(failed, Status(EC::kIo, "step failed"));
  EXPECT_FALSE(reached);
  EXPECT_EQ(calls, 2);  // the expression is evaluated exactly once

  reached = false;
  EXPECT_TRUE(StatusFnWithResult(false, calls, reached).ok());
  EXPECT_TRUE(reached);
  reached = false;
  EXPECT_EQ(StatusFnWithResult(true, calls, reached), Status(EC::kDatabase, "result failed"));
  EXPECT_FALSE(reached);
  EXPECT_EQ(calls, 4);
}

TEST(Macros, ReturnIfErrorInResultFunction) {
  int calls = 0;
  const auto ok = ResultFnWithBoth(false, false, calls);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, "done");
  EXPECT_EQ(calls, 2);

  calls = 0;
  const auto first = ResultFnWithBoth(true, false, calls);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error(), Status(EC::kIo, "step failed"));
  EXPECT_EQ(calls, 1);  // short-circuits

  calls = 0;
  const auto second = ResultFnWithBoth(false, true, calls);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error(), Status(EC::kDatabase, "result failed"));
  EXPECT_EQ(calls, 2);
}

TEST(Macros, AssignOrReturnInResultFunction) {
  int calls = 0;
  const auto sum = ResultFnAssign(false, false, calls);
  ASSERT_TRUE(sum.has_value());
  EXPECT_EQ(*sum, 42);
  EXPECT_EQ(calls, 2);

  calls = 0;
  const auto first = ResultFnAssign(true, false, calls);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code(), EC::kDatabase);
  EXPECT_EQ(calls, 1);

  calls = 0;
  const auto second = ResultFnAssign(false, true, calls);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().message(), "result failed");
  EXPECT_EQ(calls, 2);

  const auto moved = MoveOnlyFn(41);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(*moved, 42);
}

TEST(Macros, AssignOrReturnInStatusFunction) {
  int calls = 0;
  int out = 0;
  EXPECT_TRUE(StatusFnAssign(false, calls, out).ok());
  EXPECT_EQ(out, 7);
  out = -1;
  EXPECT_EQ(StatusFnAssign(true, calls, out), Status(EC::kDatabase, "result failed"));
  EXPECT_EQ(out, -1);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace oversync
