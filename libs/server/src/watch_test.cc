// Bundle-change watch against a real PostgreSQL (server.md §7.5, protocol.md §3.8, §4.7):
// the behaviours of go-oversync's bundle_change_watch_integration_test.go and
// bundle_change_watch_test.go (server.md §9.4 rows 80-81). Events travel through real
// NOTIFY/LISTEN; waits are bounded by generous deadlines that only a failure reaches.
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "oversync/protocol/json_value.h"
#include "pg.h"
#include "runtime_test_fixture.h"
#include "watch.h"

namespace oversync::testing {
namespace {

using std::chrono::milliseconds;

const Actor kAnn{"ann", "dev-a"};
const Actor kBen{"ben", "dev-b"};
constexpr milliseconds kDeadline{15000};  // only reached when an expected event never comes
constexpr char kChannel[] = "oversync_bundle_change_v1";  // the default notify_channel

// A side connection LISTENing on the bundle-change channel: sees the raw NOTIFY payloads
// (server.md §7.5 "Emit") independently of the service's own listener.
class RawListener {
 public:
  // Connects and LISTENs (failing the test when it cannot).
  static std::unique_ptr<RawListener> Start(const std::string& dsn) {
    auto conn = pg::PgConnection::Connect(dsn);
    EXPECT_TRUE(conn.has_value()) << conn.error().ToString();
    if (!conn) return nullptr;
    const Status listen = (*conn)->ExecScript(fmt::format("LISTEN \"{}\"", kChannel));
    EXPECT_TRUE(listen.ok()) << listen.ToString();
    if (!listen.ok()) return nullptr;
    return std::unique_ptr<RawListener>(new RawListener(std::move(*conn)));
  }

  // The next notification on the channel, waiting on the socket until `timeout`; nullopt when
  // none came in time (no fixed sleeps: poll returns as soon as data arrives).
  std::optional<std::string> NextPayload(milliseconds timeout = kDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto got = conn_->ConsumeNotifications();
      EXPECT_TRUE(got.has_value()) << got.error().ToString();
      if (!got) return std::nullopt;
      for (auto& n : *got) {
        EXPECT_EQ(n.channel, kChannel);
        pending_.push_back(std::move(n.payload));
      }
      if (!pending_.empty()) {
        std::string payload = std::move(pending_.front());
        pending_.pop_front();
        return payload;
      }
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd fd{conn_->Socket(), POLLIN, 0};
      if (fd.fd < 0) return std::nullopt;
      const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) return std::nullopt;
    }
  }

 private:
  explicit RawListener(std::unique_ptr<pg::PgConnection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<pg::PgConnection> conn_;
  std::deque<std::string> pending_;
};

// The decoded NOTIFY payload; `members` lists the member names in order.
struct NotifyPayload {
  std::string members;
  std::int64_t user_pk = 0;
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
};

NotifyPayload DecodePayload(const std::string& text) {
  NotifyPayload out;
  auto value = protocol::ParseJson(text);
  EXPECT_TRUE(value.has_value()) << text;
  if (!value || !value->is_object()) {
    ADD_FAILURE() << "payload is not a JSON object: " << text;
    return out;
  }
  const auto integer = [&](std::string_view name) -> std::int64_t {
    const protocol::JsonValue* v = value->Find(name);
    if (v == nullptr || !v->is_number()) return -1;
    return std::stoll(v->as_number().lexeme);
  };
  for (const protocol::JsonMember& member : value->as_object()) {
    if (!out.members.empty()) out.members += ',';
    out.members += member.key;
  }
  out.user_pk = integer("user_pk");
  out.bundle_seq = integer("bundle_seq");
  if (const protocol::JsonValue* s = value->Find("source_id"); s != nullptr && s->is_string()) {
    out.source_id = s->as_string();
  }
  out.source_bundle_id = integer("source_bundle_id");
  return out;
}

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

  std::int64_t UserPk(const std::string& user_id) {
    return std::stoll(
        Scalar(fmt::format("SELECT user_pk FROM sync.user_state WHERE user_id = '{}'", user_id)));
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
  // The head event carries no source fields; but bundle 2's own NOTIFY may still be in flight
  // and reach the new subscriber first (the later duplicate is dropped), with its source.
  if (!immediate.source_id.empty()) {
    EXPECT_EQ(immediate.source_id, "dev-a");
    EXPECT_EQ(immediate.source_bundle_id, 2);
  } else {
    EXPECT_EQ(immediate.source_bundle_id, 0);
  }

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

// server.md §9.4 row 80 (TestBundleChangeNotify_… raw NOTIFY payload), §7.5 "Emit": one committed
// bundle sends exactly one pg_notify on the channel whose JSON carries user_pk (the scope's
// sync.user_state.user_pk), bundle_seq, source_id and source_bundle_id. "Exactly one": the next
// notification after it is the next commit's (notifications arrive in commit order).
TEST_F(WatchTest, CommitSendsOneNotifyWithPayloadFields) {
  InitializeScope(kAnn);
  auto raw = RawListener::Start(db_->dsn());
  ASSERT_TRUE(raw);
  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  const std::int64_t user_pk = UserPk("ann");
  ASSERT_GT(user_pk, 0);

  const std::optional<std::string> first = raw->NextPayload();
  ASSERT_TRUE(first.has_value()) << "no NOTIFY before the deadline";
  const NotifyPayload payload = DecodePayload(*first);
  EXPECT_EQ(payload.members, "user_pk,bundle_seq,source_id,source_bundle_id") << *first;
  EXPECT_EQ(payload.user_pk, user_pk);
  EXPECT_EQ(payload.bundle_seq, 1);
  EXPECT_EQ(payload.source_id, "dev-a");
  EXPECT_EQ(payload.source_bundle_id, 1);

  ASSERT_EQ(PushUser(kAnn, 2, 2), 2);
  const std::optional<std::string> second = raw->NextPayload();
  ASSERT_TRUE(second.has_value()) << "no NOTIFY for the second commit";
  const NotifyPayload next = DecodePayload(*second);
  EXPECT_EQ(next.bundle_seq, 2) << "a duplicate NOTIFY for bundle 1 came first: " << *second;
  EXPECT_EQ(next.user_pk, user_pk);
  EXPECT_EQ(next.source_bundle_id, 2);
}

// Row 80 "no NOTIFY when disabled" (§7.5: disabled -> no NOTIFY at all). Absence is proved by
// order: a real bundle committed afterwards through a watch-enabled service on the same database
// is the first notification the side listener receives.
TEST_F(RuntimeTest, WatchDisabledSendsNoNotify) {
  InitializeScope(kAnn);
  auto raw = RawListener::Start(db_->dsn());
  ASSERT_TRUE(raw);
  auto disabled = Push(kAnn, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"x"})")});
  ASSERT_TRUE(disabled.has_value()) << disabled.error().ToString();
  ASSERT_EQ(disabled->bundle_seq, 1);
  auto server_write = service_->ExecWrite("ann", "server-job", [](SyncTransaction& tx) {
    return ToStatus(tx.Exec(fmt::format(
        "INSERT INTO business.users (id, name) VALUES ('{}', 'from server')", UserKey(2))));
  });
  ASSERT_TRUE(server_write.has_value()) << server_write.error().ToString();
  ASSERT_EQ(server_write->bundle.bundle_seq, 2);

  config_.bundle_change_watch.enabled = true;
  std::unique_ptr<RuntimeService> enabled = MakeService();
  ASSERT_TRUE(enabled);
  protocol::PushSessionCreateRequest create;
  create.source_bundle_id = 1;
  create.planned_row_count = 1;
  const Actor other_device{"ann", "dev-enabled"};
  auto session = enabled->CreatePushSession(other_device, create);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  protocol::PushChunkRequest chunk;
  chunk.rows = {Row("users", UserKey(3), "INSERT", 0, R"({"name":"y"})")};
  ASSERT_TRUE(
      enabled->UploadPushChunk(other_device, session->push_id, std::move(chunk)).has_value());
  auto commit = enabled->CommitPushSession(other_device, session->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  ASSERT_EQ(commit->bundle_seq, 3);

  const std::optional<std::string> first = raw->NextPayload();
  ASSERT_TRUE(first.has_value()) << "the enabled service's commit sent no NOTIFY";
  const NotifyPayload payload = DecodePayload(*first);
  EXPECT_EQ(payload.bundle_seq, 3) << "a watch-disabled commit sent a NOTIFY: " << *first;
  EXPECT_EQ(payload.source_id, "dev-enabled");
  EXPECT_EQ(payload.source_bundle_id, 1);
}

// Row 80 / protocol.md §8 vector 109 (…NoCapturedChangesEmitsNoPostgresNotify) and §7.5
// "rolled-back bundles and no-op WithinSyncBundle calls emit nothing": a WithinSyncBundle touching
// only an unregistered table, an ExecWrite that is refused as a no-op and a rolled-back push send
// no NOTIFY; the first notifications received are the real bundles committed after each of them.
TEST_F(WatchTest, NoOpAndRolledBackWritesSendNoNotify) {
  InitializeScope(kAnn);
  Sql("CREATE TABLE public.audit (note TEXT)");
  auto raw = RawListener::Start(db_->dsn());
  ASSERT_TRUE(raw);

  auto noop = service_->WithinSyncBundle("ann", {"job", 1}, [](SyncTransaction& tx) {
    return ToStatus(tx.Exec("INSERT INTO public.audit VALUES ('x')"));
  });
  ASSERT_TRUE(noop.has_value()) << noop.error().ToString();
  EXPECT_FALSE(noop->has_value());
  EXPECT_EQ(Scalar("SELECT count(*) FROM public.audit"), "1");  // it did commit
  auto noop_write = service_->ExecWrite("ann", "writer", [](SyncTransaction& tx) {
    return ToStatus(tx.Exec("INSERT INTO public.audit VALUES ('y')"));
  });
  ASSERT_FALSE(noop_write.has_value());
  EXPECT_EQ(noop_write.error().code(), ErrorCode::kFailedPrecondition);

  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  const std::optional<std::string> first = raw->NextPayload();
  ASSERT_TRUE(first.has_value()) << "the real commit sent no NOTIFY";
  const NotifyPayload payload = DecodePayload(*first);
  EXPECT_EQ(payload.bundle_seq, 1) << "a no-op bundle transaction sent a NOTIFY: " << *first;
  EXPECT_EQ(payload.source_id, "dev-a");

  // A push that rolls back (conflict) sends nothing either.
  auto conflict = Push(kAnn, 2, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"dup"})")});
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kPushConflict);
  ASSERT_EQ(PushUser(kAnn, 2, 2), 2);
  const std::optional<std::string> second = raw->NextPayload();
  ASSERT_TRUE(second.has_value()) << "the second real commit sent no NOTIFY";
  const NotifyPayload next = DecodePayload(*second);
  EXPECT_EQ(next.bundle_seq, 2) << "a rolled-back push sent a NOTIFY: " << *second;
  EXPECT_EQ(next.source_bundle_id, 2);
}

// Row 80 (catch-up after missed NOTIFY/reconnect), §7.5 "Listen": the service's listener backend
// is terminated; a bundle committed while it may be reconnecting still reaches the subscriber,
// either through NOTIFY (already re-LISTENing) or through the catch-up after the re-LISTEN (then
// without source fields). A later commit reaches it too (the listener is back).
TEST_F(WatchTest, SubscriberCatchesUpAfterListenerReconnects) {
  InitializeScope(kAnn);
  ASSERT_EQ(PushUser(kAnn, 1, 1), 1);
  auto sub = Subscribe(kAnn, 1);
  ASSERT_TRUE(sub);
  auto nothing = sub->Next(milliseconds(0));
  ASSERT_TRUE(nothing.has_value());
  EXPECT_FALSE(nothing->has_value());

  // The listener's last statement is its LISTEN (no subscribers existed at its catch-up).
  EXPECT_EQ(Scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE query LIKE 'LISTEN%' AND datname = current_database()"),
            "1");
  ASSERT_EQ(PushUser(kAnn, 2, 2), 2);
  const BundleChangeEvent caught_up = NextEvent(*sub);
  EXPECT_EQ(caught_up.bundle_seq, 2);
  if (!caught_up.source_id.empty()) {  // delivered by NOTIFY rather than by catch-up
    EXPECT_EQ(caught_up.source_id, "dev-a");
    EXPECT_EQ(caught_up.source_bundle_id, 2);
  }

  ASSERT_EQ(PushUser(kAnn, 3, 3), 3);
  const BundleChangeEvent later = NextEvent(*sub);
  EXPECT_EQ(later.bundle_seq, 3);
}

// ---- WatchHub unit tests: server.md §9.4 row 81 (bundle_change_watch_test.go), §7.5 "Hub" ----

BundleChangeEvent Event(std::int64_t seq) {
  BundleChangeEvent event;
  event.bundle_seq = seq;
  event.source_id = "dev";
  event.source_bundle_id = seq;
  return event;
}

// Next(0ms): the pending event, or nullopt (failing the test on an error).
std::optional<BundleChangeEvent> Poll(BundleChangeSubscription& sub) {
  auto next = sub.Next(milliseconds(0));
  EXPECT_TRUE(next.has_value()) << next.error().ToString();
  return next ? *next : std::nullopt;
}

std::unique_ptr<BundleChangeSubscription> HubSubscribe(WatchHub& hub, std::int64_t user_pk,
                                                       std::int64_t after) {
  auto sub = hub.Subscribe(user_pk, after);
  EXPECT_TRUE(sub.has_value()) << sub.error().ToString();
  return sub ? std::move(*sub) : nullptr;
}

// Row 81: fan-out per user_pk and isolation between users.
TEST(WatchHubTest, FansOutOnlyToTheUsersSubscribers) {
  auto hub = std::make_shared<WatchHub>();
  auto a1 = HubSubscribe(*hub, 1, 0);
  auto a2 = HubSubscribe(*hub, 1, 0);
  auto b = HubSubscribe(*hub, 2, 0);
  ASSERT_TRUE(a1 && a2 && b);
  EXPECT_EQ(hub->SubscriberCount(1), 2);
  EXPECT_EQ(hub->SubscriberCount(2), 1);
  EXPECT_EQ(hub->TotalSubscribers(), 3);

  hub->Publish(1, Event(4));
  hub->Publish(3, Event(9));  // nobody subscribed: ignored
  for (BundleChangeSubscription* sub : {a1.get(), a2.get()}) {
    const auto event = Poll(*sub);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->bundle_seq, 4);
    EXPECT_EQ(event->source_id, "dev");
    EXPECT_EQ(event->source_bundle_id, 4);
    EXPECT_FALSE(Poll(*sub).has_value());
  }
  EXPECT_FALSE(Poll(*b).has_value());
}

// Row 81 / protocol.md §8 vector 103 (TestBundleChangeHub_CoalescesSlowSubscriber): 1, 2, 3 to a
// subscriber that does not read -> it receives exactly 3, then nothing.
TEST(WatchHubTest, CoalescesToTheLatestForASlowSubscriber) {
  auto hub = std::make_shared<WatchHub>();
  auto sub = HubSubscribe(*hub, 1, 0);
  ASSERT_TRUE(sub);
  for (std::int64_t seq : {1, 2, 3}) hub->Publish(1, Event(seq));
  const auto event = Poll(*sub);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->bundle_seq, 3);
  EXPECT_EQ(event->source_bundle_id, 3);
  EXPECT_FALSE(Poll(*sub).has_value());
}

// Row 81 / vector 104 (TestBundleChangeHub_DropsStaleEvent) and §7.5 (last_seq starts at
// after_bundle_seq; Publish ignores bundle_seq <= last_seq).
TEST(WatchHubTest, DropsStaleEvents) {
  auto hub = std::make_shared<WatchHub>();
  auto sub = HubSubscribe(*hub, 1, 0);
  ASSERT_TRUE(sub);
  // After receiving 2, an event with 1 is not delivered (vector 104).
  hub->Publish(1, Event(2));
  auto received = Poll(*sub);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->bundle_seq, 2);
  hub->Publish(1, Event(1));
  hub->Publish(1, Event(2));
  EXPECT_FALSE(Poll(*sub).has_value());
  // 5 then 4 (unread): only 5.
  hub->Publish(1, Event(5));
  hub->Publish(1, Event(4));
  received = Poll(*sub);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->bundle_seq, 5);
  EXPECT_FALSE(Poll(*sub).has_value());

  // Events at or below after_bundle_seq are dropped.
  auto after = HubSubscribe(*hub, 1, 7);
  ASSERT_TRUE(after);
  hub->Publish(1, Event(6));
  hub->Publish(1, Event(7));
  EXPECT_FALSE(Poll(*after).has_value());
  hub->Publish(1, Event(8));
  received = Poll(*after);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->bundle_seq, 8);
}

// Row 81 (non-blocking publish): a subscriber that never reads does not block Publish.
TEST(WatchHubTest, PublishNeverBlocksOnANonReadingSubscriber) {
  auto hub = std::make_shared<WatchHub>();
  auto stuck = HubSubscribe(*hub, 1, 0);
  ASSERT_TRUE(stuck);
  for (std::int64_t seq = 1; seq <= 10'000; ++seq) hub->Publish(1, Event(seq));
  const auto event = Poll(*stuck);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->bundle_seq, 10'000);
  EXPECT_FALSE(Poll(*stuck).has_value());
}

// §7.5 / service close: Close ends every subscription (Next fails with kServiceUnavailable) and
// refuses new subscriptions.
TEST(WatchHubTest, CloseFailsNextAndRefusesSubscribe) {
  auto hub = std::make_shared<WatchHub>();
  auto sub = HubSubscribe(*hub, 1, 0);
  ASSERT_TRUE(sub);
  hub->Close();
  auto closed = sub->Next(kDeadline);  // returns at once: the close wakes it
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code(), ErrorCode::kServiceUnavailable);
  EXPECT_EQ(closed.error().message(), "sync service is shutting down");
  auto refused = hub->Subscribe(1, 0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kServiceUnavailable);
  hub->Publish(1, Event(1));  // ignored by the closed subscriber
  EXPECT_FALSE(sub->Next(milliseconds(0)).has_value());
}

// Row 81 (removal on cancel): destroying a subscription unregisters it.
TEST(WatchHubTest, DestroyingASubscriptionRemovesIt) {
  auto hub = std::make_shared<WatchHub>();
  auto first = HubSubscribe(*hub, 1, 0);
  auto second = HubSubscribe(*hub, 1, 0);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(hub->SubscriberCount(1), 2);
  EXPECT_EQ(hub->SubscribedUsers(), std::vector<std::int64_t>{1});
  first.reset();
  EXPECT_EQ(hub->SubscriberCount(1), 1);
  EXPECT_EQ(hub->TotalSubscribers(), 1);
  hub->Publish(1, Event(1));
  auto event = Poll(*second);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->bundle_seq, 1);
  second.reset();
  EXPECT_EQ(hub->SubscriberCount(1), 0);
  EXPECT_EQ(hub->TotalSubscribers(), 0);
  EXPECT_TRUE(hub->SubscribedUsers().empty());
}

}  // namespace
}  // namespace oversync::testing
