// Real process death at every durable boundary of a push (client.md §4.1 overview, §4.2-§4.5),
// end to end against the in-process reference server (label e2e; needs OVERSYNC_TEST_DSN).
//
// Each test forks a child that creates its OWN client (new SQLite handle, new libcurl transport)
// on the device file, writes, and pushes until it calls _exit(0) at the crash point: inside a push
// hook, inside a wrapping Transport (before forwarding a request, or right after the server
// answered it), inside the replay transaction (a SQLite function called from a trigger), or just
// after the push returned. The TestServer keeps running in the parent; the child only talks HTTP
// to it. The parent waits for the child (waitpid, no sleeps), reopens the same file (Open +
// Attach), pushes and pulls, and checks convergence: exactly the expected rows on the server and no
// duplicate bundle (sync.bundle_log), every pre-crash write present locally and remotely, and the
// dirty/outbox/stage tables and apply mode clean.
//
// Pins client.md §9 42 (TestPushPending_ReuploadsFrozenOutboundSnapshotAfterCrashBeforeCommit),
// 43 (TestPushPending_ReplaysAcceptedBundleAfterCrashBeforeDurableApply), 40 (freeze atomicity,
// TestPushPending_MovesFrozenRowsIntoOutboundAtomically), 44/46 (writes between freeze and crash
// survive, TestPushPending_NewLocalWritesDuringUploadSurviveInDirtyRows), 47 (a torn replay rolls
// back, TestPushPending_AuthoritativeReplayRollbackDoesNotLeakApplyMode), 53.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "client_fixture.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/transport.h"

namespace oversync::oversqlite::testing {
namespace {

enum class CrashPoint : std::uint8_t {
  kInsideFreezeTx,        // freeze hook: the freeze tx never commits
  kAfterFreeze,           // before the session create request leaves
  kAfterFirstChunk,       // the server accepted chunk 1 of 3
  kAfterCommitAnswered,   // the server committed; the client never persisted committed_remote
  kAfterCommittedRemote,  // committed_remote persisted; before the first committed-rows fetch
  kAfterFirstStagedPage,  // committed page 1 of 3 staged
  kMidReplay,             // inside the replay tx, after it wrote a business row
  kAfterReplay,           // the replay tx committed
};

std::string_view CrashPointName(CrashPoint point) {
  switch (point) {
    case CrashPoint::kInsideFreezeTx:
      return "InsideFreezeTx";
    case CrashPoint::kAfterFreeze:
      return "AfterFreeze";
    case CrashPoint::kAfterFirstChunk:
      return "AfterFirstChunk";
    case CrashPoint::kAfterCommitAnswered:
      return "AfterCommitAnswered";
    case CrashPoint::kAfterCommittedRemote:
      return "AfterCommittedRemote";
    case CrashPoint::kAfterFirstStagedPage:
      return "AfterFirstStagedPage";
    case CrashPoint::kMidReplay:
      return "MidReplay";
    case CrashPoint::kAfterReplay:
      return "AfterReplay";
  }
  return "?";
}

// Dies (_exit(0)) on the `nth` request matching method + path predicate, either before
// forwarding it or right after the server answered it. Everything else is forwarded.
class CrashingTransport final : public Transport {
 public:
  CrashingTransport(std::shared_ptr<Transport> inner, std::string method,
                    std::function<bool(std::string_view path)> matches, int nth,
                    bool after_forwarding)
      : inner_(std::move(inner)),
        method_(std::move(method)),
        matches_(std::move(matches)),
        nth_(nth),
        after_forwarding_(after_forwarding) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const bool hit = request.method == method_ && matches_(FaultTransport::PathOf(request.url)) &&
                     ++seen_ == nth_;
    if (hit && !after_forwarding_) ::_exit(0);
    Result<HttpResponse> response = inner_->Send(request);
    if (hit) ::_exit(0);
    return response;
  }
  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    return inner_->Stream(request, on_data, error_body);
  }

 private:
  const std::shared_ptr<Transport> inner_;
  const std::string method_;
  const std::function<bool(std::string_view)> matches_;
  const int nth_;
  const bool after_forwarding_;
  std::atomic<int> seen_{0};
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Runs `body` in a child process; returns its exit code (0 = died at the crash point as planned,
// 100 = killed by a signal).
int RunChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

constexpr int kRows = 3;  // rows of the crashed push: 3 chunks and 3 committed pages

class CrashTest : public ClientFixture, public ::testing::WithParamInterface<CrashPoint> {
 protected:
  CrashTest() {
    user_ = "crash-user";
    file_prefix_ = "crash";
  }

  // One row per chunk and per committed page, so "first of several" exists.
  static void SmallChunks(Config& config) {
    config.upload_limit = 1;
    config.download_limit = 1;
  }

  // The transport the child uses for `point` (nullptr: plain libcurl).
  static ClientFixture::TransportWrapper ChildTransport(CrashPoint point) {
    auto wrap = [](std::string method, std::function<bool(std::string_view)> matches, int nth,
                   bool after) -> ClientFixture::TransportWrapper {
      return [=](std::shared_ptr<Transport> curl) -> std::shared_ptr<Transport> {
        return std::make_shared<CrashingTransport>(std::move(curl), method, matches, nth, after);
      };
    };
    switch (point) {
      case CrashPoint::kAfterFreeze:
        return wrap(
            "POST", [](std::string_view p) { return p == "/sync/push-sessions"; }, 1, false);
      case CrashPoint::kAfterFirstChunk:
        return wrap(
            "POST", [](std::string_view p) { return EndsWith(p, "/chunks"); }, 1, true);
      case CrashPoint::kAfterCommitAnswered:
        return wrap(
            "POST", [](std::string_view p) { return EndsWith(p, "/commit"); }, 1, true);
      case CrashPoint::kAfterCommittedRemote:
        return wrap(
            "GET", [](std::string_view p) { return p.rfind("/sync/committed-bundles/", 0) == 0; },
            1, false);
      case CrashPoint::kAfterFirstStagedPage:
        return wrap(
            "GET", [](std::string_view p) { return p.rfind("/sync/committed-bundles/", 0) == 0; },
            2, false);
      default:
        return nullptr;
    }
  }

  // Points after the commit hook: the child also writes a row there (after the freeze), which
  // must survive the crash as a dirty row and reach the server one push later.
  static bool WritesAfterFreeze(CrashPoint point) {
    return point == CrashPoint::kAfterCommitAnswered ||
           point == CrashPoint::kAfterCommittedRemote ||
           point == CrashPoint::kAfterFirstStagedPage || point == CrashPoint::kMidReplay ||
           point == CrashPoint::kAfterReplay;
  }

  // The child: its own client on the file; pushes the crash rows and dies at `point`.
  int ChildBody(Device& d, CrashPoint point) {
    Start(d, SmallChunks, ChildTransport(point));
    if (::testing::Test::HasFatalFailure()) return 10;
    for (int i = 0; i < kRows; ++i) InsertUser(d, 10 + i, fmt::format("crash{}", i));
    // A synced row edited in the same bundle.
    d.Exec(fmt::format("UPDATE users SET name = 'base-edited' WHERE id = '{}'", FixtureUuid(1)));
    if (::testing::Test::HasFailure()) return 11;
    if (point == CrashPoint::kInsideFreezeTx) {
      d.client->SetBeforePushFreezeHook([](sqlite3* /*freeze_tx_db*/) -> Status { ::_exit(0); });
    }
    if (WritesAfterFreeze(point)) {
      d.client->SetBeforePushCommitHook([&d]() -> Status {
        InsertUser(d, 20, "late");
        return {};
      });
    }
    if (point == CrashPoint::kMidReplay) {
      // Dies after the replay tx has upserted a business row but before it commits. The function
      // and the trigger live on the client's own connection (the freeze hook receives it); the
      // trigger commits with the freeze.
      d.client->SetBeforePushFreezeHook([](sqlite3* freeze_tx_db) -> Status {
        sqlite3_create_function(
            freeze_tx_db, "crash_now", 0, SQLITE_UTF8, nullptr,
            [](sqlite3_context* /*ctx*/, int /*argc*/, sqlite3_value** /*argv*/) { ::_exit(0); },
            nullptr, nullptr);
        const int rc = sqlite3_exec(
            freeze_tx_db,
            "CREATE TRIGGER crash_mid_replay AFTER UPDATE ON users WHEN "
            "(SELECT apply_mode FROM _sync_apply_state) = 1 BEGIN SELECT crash_now(); END",
            nullptr, nullptr, nullptr);
        return rc == SQLITE_OK ? Status() : Status(ErrorCode::kInternal, "trigger not created");
      });
    }
    Result<PushReport> pushed = d.client->PushPending();
    if (point == CrashPoint::kAfterReplay && pushed.has_value() &&
        pushed->outcome == PushOutcome::kCommitted) {
      ::_exit(0);
    }
    return 3;  // the crash point was not reached
  }
};

TEST_P(CrashTest, RestartAfterCrashConvergesWithoutDuplicateBundles) {
  const CrashPoint point = GetParam();
  Device& d = NewDevice();
  Start(d, SmallChunks);
  ASSERT_FALSE(HasFatalFailure());
  const std::string source = d.client->source_id();
  InsertUser(d, 1, "base");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  d.client.reset();  // the child owns the file while it runs

  const int code = RunChild([&]() -> int { return ChildBody(d, point); });
  ASSERT_EQ(code, 0) << "child did not die at " << CrashPointName(point);

  // Restart: a fresh client on the same file.
  Start(d, SmallChunks);
  ASSERT_FALSE(HasFatalFailure());
  d.Exec("DROP TRIGGER IF EXISTS crash_mid_replay");
  EXPECT_EQ(d.client->source_id(), source);
  EXPECT_EQ(d.ApplyMode(), 0);  // a torn replay tx never leaks apply mode

  // What the crash left durable.
  switch (point) {
    case CrashPoint::kInsideFreezeTx:
      EXPECT_EQ(d.OutboxState(), "none");
      EXPECT_EQ(d.OutboxRows(), 0);
      EXPECT_EQ(d.Dirty(), kRows + 1);
      break;
    case CrashPoint::kAfterFreeze:
    case CrashPoint::kAfterFirstChunk:
    case CrashPoint::kAfterCommitAnswered:
      EXPECT_EQ(d.OutboxState(), "prepared");
      EXPECT_EQ(d.OutboxRows(), kRows + 1);
      break;
    case CrashPoint::kAfterCommittedRemote:
    case CrashPoint::kAfterFirstStagedPage:
    case CrashPoint::kMidReplay:
      EXPECT_EQ(d.OutboxState(), "committed_remote");
      EXPECT_EQ(d.OutboxRows(), kRows + 1);
      EXPECT_EQ(d.PushStage(), point == CrashPoint::kAfterFirstStagedPage ? 1
                               : point == CrashPoint::kMidReplay          ? kRows + 1
                                                                          : 0);
      break;
    case CrashPoint::kAfterReplay:
      EXPECT_EQ(d.OutboxState(), "none");
      EXPECT_EQ(d.Checkpoint(), 2);
      break;
  }
  if (point != CrashPoint::kInsideFreezeTx) {
    EXPECT_EQ(d.Dirty(), WritesAfterFreeze(point) ? 1 : 0);
  }
  // Every pre-crash write is visible locally.
  for (int i = 0; i < kRows; ++i) {
    EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(10 + i))),
              fmt::format("crash{}", i));
  }
  EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(1))),
            "base-edited");

  // Resume: push until nothing is pending, then pull to the stable checkpoint.
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  if (d.Dirty() > 0) {
    ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  }
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();

  // Server: exactly the expected rows, one bundle per push, no duplicate source tuple.
  const bool late = WritesAfterFreeze(point);
  const std::int64_t expected_bundles = late ? 3 : 2;
  EXPECT_EQ(ServerBundles(), expected_bundles);
  EXPECT_EQ(ServerBundles(source), expected_bundles);
  EXPECT_EQ(ServerText(fmt::format("SELECT count(DISTINCT source_bundle_id) FROM sync.bundle_log "
                                   "WHERE source_id = '{}'",
                                   source)),
            std::to_string(expected_bundles));
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"),
            std::to_string(1 + kRows + (late ? 1 : 0)));
  EXPECT_EQ(ServerUserName(1), "base-edited");
  for (int i = 0; i < kRows; ++i) {
    EXPECT_EQ(ServerUserName(10 + i), fmt::format("crash{}", i));
  }
  if (late) {
    EXPECT_EQ(ServerUserName(20), "late");
  }

  // Local: clean metadata, same rows, checkpoint at the last bundle.
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.PushStage(), 0);
  EXPECT_EQ(d.SnapshotStage(), 0);
  EXPECT_EQ(d.ApplyMode(), 0);
  EXPECT_EQ(d.Checkpoint(), expected_bundles);
  EXPECT_EQ(d.NextBundleId(), expected_bundles + 1);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 1 + kRows + (late ? 1 : 0));
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state WHERE table_name = 'users'"),
            1 + kRows + (late ? 1 : 0));
  EXPECT_EQ(d.Text(fmt::format("SELECT row_version FROM _sync_row_state WHERE key_json = "
                               "'{{\"id\":\"{}\"}}'",
                               FixtureUuid(1))),
            "2");
}

INSTANTIATE_TEST_SUITE_P(EveryDurableBoundary, CrashTest,
                         ::testing::Values(CrashPoint::kInsideFreezeTx, CrashPoint::kAfterFreeze,
                                           CrashPoint::kAfterFirstChunk,
                                           CrashPoint::kAfterCommitAnswered,
                                           CrashPoint::kAfterCommittedRemote,
                                           CrashPoint::kAfterFirstStagedPage,
                                           CrashPoint::kMidReplay, CrashPoint::kAfterReplay),
                         [](const ::testing::TestParamInfo<CrashPoint>& param_info) {
                           return std::string(CrashPointName(param_info.param));
                         });

}  // namespace
}  // namespace oversync::oversqlite::testing
