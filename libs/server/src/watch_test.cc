// Bundle-change watch against a real PostgreSQL (server.md §7.5, protocol.md §3.8, §4.7):
// the behaviours of go-oversync's bundle_change_watch_integration_test.go and
// bundle_change_watch_test.go (server.md §9.4 rows 80-81). Events travel through real
// NOTIFY/LISTEN; waits are bounded by generous deadlines that only a failure reaches.
#include <chrono>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

using std::chrono::milliseconds;

const Actor kAnn{"ann", "dev-a"};
const Actor kBen{"ben", "dev-b"};
constexpr milliseconds kDeadline{15000};  // only reached when an expected event never comes

class WatchTest : public RuntimeTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.bundle_change_watch.enabled = true;
  }

  std::unique_ptr<BundleChangeSubscription> Subscribe(const Actor& actor, std::int64_t after) {
    auto sub = service_->SubscribeBundleChanges(actor, after);
    EXPECT_TRUE(sub.has_value()) << sub.error().ToString();
    return sub ? std::move(*sub) : nullptr;
  }

  // The next event (failing the test when none comes before the deadline).
  BundleChangeEvent NextEvent(BundleChangeSubscription& sub) {
    auto event = sub.Next(kDeadline);
    EXPECT_TRUE(event.has_value()) << event.error().ToString();
    if (!event || !event->has_value()) {
      ADD_FAILURE() << "no event before the deadline";
      return {};
    }
    return **event;
  }

  std::int64_t PushUser(const Actor& actor, std::int64_t sbid, int key) {
    auto r = Push(actor, sbid, {Row("users", UserKey(key), "INSERT", 0, R"({"name":"x"})")});
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->bundle_seq : 0;
  }
};

// TestBundleChangeWatch_RejectsWhenDisabled / …InvalidAfter / …Uninitialized.
TEST_F(RuntimeTest, WatchDisabledIsRefused) {
  InitializeScope(kAnn);
  auto sub = service_->SubscribeBundleChanges(kAnn, 0);
  ASSERT_FALSE(sub.has_value());
  EXPECT_EQ(sub.error().code(), ErrorCode::kBundleChangeWatchDisabled);
  EXPECT_EQ(sub.error().message(), "Bundle change watch is disabled");
  EXPECT_EQ(service_->LocalWatchSubscriberCount("ann").value_or(-1), 0);
}

TEST_F(WatchTest, RejectsNegativeCheckpointAndUninitializedScope) {
  auto uninitialized = service_->SubscribeBundleChanges(kAnn, 0);
  ASSERT_FALSE(uninitialized.has_value());
  EXPECT_EQ(uninitialized.error().code(), ErrorCode::kScopeUninitialized);
  InitializeScope(kAnn);
  auto negative = service_->SubscribeBundleChanges(kAnn, -1);
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().message(), "after_bundle_seq must be >= 0");
}

// …ImmediateEventWhenBehind, …WakesOnCommitWithSourceFields, hub stale-drop, subscriber count.
TEST_F(WatchTest, ImmediateEventWhenBehindThenWakesOnCommits) {
  InitializeScope(kAnn);
  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  ASSERT_EQ(PushUser(kAnn, 2, 2), 2);

  auto behind = Subscribe(kAnn, 1);
  ASSERT_TRUE(behind);
  const BundleChangeEvent immediate = NextEvent(*behind);
  EXPECT_EQ(immediate.bundle_seq, 2);
  EXPECT_TRUE(immediate.source_id.empty());  // head only: no source fields
  EXPECT_EQ(immediate.source_bundle_id, 0);

  auto current = Subscribe(kAnn, 2);
  ASSERT_TRUE(current);
  auto nothing = current->Next(milliseconds(0));
  ASSERT_TRUE(nothing.has_value());
  EXPECT_FALSE(nothing->has_value());
  EXPECT_EQ(service_->LocalWatchSubscriberCount("ann").value_or(-1), 2);

  ASSERT_EQ(PushUser(kAnn, 3, 3), 3);
  for (BundleChangeSubscription* sub : {behind.get(), current.get()}) {
    const BundleChangeEvent event = NextEvent(*sub);
    EXPECT_EQ(event.bundle_seq, 3);
    EXPECT_EQ(event.source_id, "dev-a");
    EXPECT_EQ(event.source_bundle_id, 3);
  }
  // A server-originated write wakes them too, with the writer as source.
  auto write = service_->ExecWrite("ann", "server-job", [](SyncTransaction& tx) {
    return ToStatus(tx.Exec(fmt::format(
        "INSERT INTO business.users (id, name) VALUES ('{}', 'from server')", UserKey(4))));
  });
  ASSERT_TRUE(write.has_value()) << write.error().ToString();
  const BundleChangeEvent server_event = NextEvent(*current);
  EXPECT_EQ(server_event.bundle_seq, 4);
  EXPECT_EQ(server_event.source_id, "server-job");
  EXPECT_EQ(server_event.source_bundle_id, 1);

  behind.reset();
  EXPECT_EQ(service_->LocalWatchSubscriberCount("ann").value_or(-1), 1);
  current.reset();
  EXPECT_EQ(service_->LocalWatchSubscriberCount("ann").value_or(-1), 0);
}

// …NoWakeOnRollback, …NoNotifyWhenNoCapturedChanges, …PerUserIsolation: the first event a
// subscriber sees after a rejected commit, a no-op server write and another user's commit is
// its own next commit.
TEST_F(WatchTest, RollbacksNoOpsAndOtherUsersDoNotWake) {
  InitializeScope(kAnn);
  InitializeScope(kBen);
  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  auto sub = Subscribe(kAnn, 1);
  ASSERT_TRUE(sub);

  // A conflicting commit rolls back.
  auto conflict = Push(kAnn, 2, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"dup"})")});
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kPushConflict);
  // A server write that touches no registered table commits without a bundle.
  Sql("CREATE TABLE public.audit (note TEXT)");
  auto noop = service_->WithinSyncBundle("ann", {"job", 1}, [](SyncTransaction& tx) {
    return ToStatus(tx.Exec("INSERT INTO public.audit VALUES ('x')"));
  });
  ASSERT_TRUE(noop.has_value()) << noop.error().ToString();
  EXPECT_FALSE(noop->has_value());
  // Another user's commit.
  ASSERT_EQ(PushUser(kBen, 1, 7), 1);

  ASSERT_EQ(PushUser(kAnn, 2, 2), 2);
  const BundleChangeEvent event = NextEvent(*sub);
  EXPECT_EQ(event.bundle_seq, 2);
  EXPECT_EQ(event.source_bundle_id, 2);
}

// Hub coalescing (bundle_change_watch_test.go …CoalescesToLatest): a reader that falls behind
// sees strictly increasing bundle_seqs ending at the newest, never one event per commit owed.
TEST_F(WatchTest, SlowReaderGetsCoalescedIncreasingEvents) {
  InitializeScope(kAnn);
  auto sub = Subscribe(kAnn, 0);
  ASSERT_TRUE(sub);
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(PushUser(kAnn, i, i), i);
  std::vector<std::int64_t> seen;
  while (seen.empty() || seen.back() < 5) {
    const BundleChangeEvent event = NextEvent(*sub);
    if (event.bundle_seq == 0) break;  // deadline reached (already reported)
    seen.push_back(event.bundle_seq);
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 5);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
  EXPECT_LE(seen.size(), 5U);
}

// TestBundleChangeWatch_MultipleServicesReceiveSameCommittedNotify: a commit through one
// service wakes a subscriber of another service on the same database (NOTIFY fan-out).
TEST_F(WatchTest, AnotherServiceOnTheSameDatabaseIsWoken) {
  InitializeScope(kAnn);
  std::unique_ptr<RuntimeService> other = MakeService();
  ASSERT_TRUE(other);
  auto sub = other->SubscribeBundleChanges(kAnn, 0);
  ASSERT_TRUE(sub.has_value()) << sub.error().ToString();
  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  const BundleChangeEvent event = NextEvent(**sub);
  EXPECT_EQ(event.bundle_seq, 1);
  EXPECT_EQ(event.source_id, "dev-a");
}

// …UnsubscribeOnCancelClosesChannel / service close: Shutdown ends every subscription instead
// of waiting for it, and refuses new ones.
TEST_F(WatchTest, ShutdownClosesSubscriptions) {
  InitializeScope(kAnn);
  auto sub = Subscribe(kAnn, 0);
  ASSERT_TRUE(sub);
  service_->Shutdown();
  auto closed = sub->Next(kDeadline);
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code(), ErrorCode::kServiceUnavailable);
  // A closed service accepts no operation (BeginOperation's closed-service error).
  EXPECT_FALSE(service_->SubscribeBundleChanges(kAnn, 0).has_value());
}

}  // namespace
}  // namespace oversync::testing
