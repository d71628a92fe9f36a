// Multi-device scenarios (client.md §10): device-replacement, offline-online, conflicts,
// bundle-fk-atomicity, multi-device-sync, multi-device-complex.
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "oversync/common/rfc3339.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "scenarios.h"

namespace oversync::sim {
namespace {

using oversqlite::AttachOutcome;
using oversqlite::AttachOutcomeName;
using oversqlite::ClientErrorKind;
using oversqlite::PushOutcome;

std::string InsertUser(int n, std::string_view name, std::string_view stamp) {
  return fmt::format(
      "INSERT INTO users (id, name, email, created_at, updated_at) "
      "VALUES ('{}', '{}', '{}@example.com', '{}', '{}');",
      Uuid(n), name, name, stamp, stamp);
}
std::string InsertUser(int n, std::string_view name) { return InsertUser(n, name, Stamp(0)); }

std::string SetUser(int n, std::string_view name, std::string_view stamp) {
  return fmt::format(
      "UPDATE users SET name = '{}', email = '{}@example.com', updated_at = '{}' WHERE id = '{}';",
      name, name, stamp, Uuid(n));
}

// Both devices hold exactly `ids` in users, and so does the server.
Status ExpectConverged(ScenarioContext& ctx, Device& a, Device& b,
                       const std::set<std::string>& ids) {
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(a, "users", ids));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(b, "users", ids));
  return ExpectServerIds(ctx, ctx.user(), "users", ids);
}

// The instant of an RFC 3339 text (device rows hold the server's rendering after a pull).
Result<TimePoint> Instant(std::string_view text) {
  Result<TimePoint> t = ParseRfc3339(text);
  if (!t.has_value()) return Error(Failed(fmt::format("bad timestamp '{}'", text)));
  return t;
}

}  // namespace

// A replacement phone (new source) restores, writes and pushes; the original converges.
Status RunDeviceReplacement(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * original, ctx.NewDevice("original"));
  OVERSYNC_RETURN_IF_ERROR(original->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(original->Exec(InsertUser(1, "from-original")));
  OVERSYNC_RETURN_IF_ERROR(original->Push());

  OVERSYNC_ASSIGN_OR_RETURN(Device * replacement, ctx.NewDevice("replacement"));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::AttachResult attached, replacement->SignIn(ctx.user()));
  OVERSYNC_SIM_EXPECT(attached.outcome == AttachOutcome::kUsedRemoteState,
                      "replacement attach outcome {}, want used_remote_state",
                      AttachOutcomeName(attached.outcome));
  OVERSYNC_RETURN_IF_ERROR(replacement->Rebuild());
  OVERSYNC_SIM_EXPECT(replacement->client().source_id() != original->client().source_id(),
                      "replacement shares source {}", original->client().source_id());
  OVERSYNC_RETURN_IF_ERROR(replacement->Exec(InsertUser(2, "from-replacement")));
  OVERSYNC_RETURN_IF_ERROR(replacement->Push());
  OVERSYNC_RETURN_IF_ERROR(original->Pull());
  return ExpectConverged(ctx, *original, *replacement, {Uuid(1), Uuid(2)});
}

// Two devices of one user; a deleted row must stay deleted after everyone synced.
Status RunMultiDeviceSync(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * one, ctx.NewDevice("device-1"));
  OVERSYNC_ASSIGN_OR_RETURN(Device * two, ctx.NewDevice("device-2"));
  OVERSYNC_RETURN_IF_ERROR(one->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(one->Rebuild());
  OVERSYNC_RETURN_IF_ERROR(two->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(two->Rebuild());
  OVERSYNC_RETURN_IF_ERROR(one->Exec(InsertUser(1, "person-a")));
  OVERSYNC_RETURN_IF_ERROR(two->Exec(InsertUser(2, "person-b")));
  OVERSYNC_RETURN_IF_ERROR(one->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(two->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(one->Pull());
  OVERSYNC_RETURN_IF_ERROR(ExpectConverged(ctx, *one, *two, {Uuid(1), Uuid(2)}));

  OVERSYNC_RETURN_IF_ERROR(one->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1))));
  OVERSYNC_RETURN_IF_ERROR(one->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(two->Pull());
  // Another full round on both: nothing may resurrect person A.
  OVERSYNC_RETURN_IF_ERROR(two->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(one->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(ExpectConverged(ctx, *one, *two, {Uuid(2)}));
  return ExpectServerCount(ctx, ctx.user(), "users", 1);
}

// Alternating adds, updates, deletes and a delete + re-add + update of the same key.
Status RunMultiDeviceComplex(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * a, ctx.NewDevice("device-a"));
  OVERSYNC_ASSIGN_OR_RETURN(Device * b, ctx.NewDevice("device-b"));
  OVERSYNC_RETURN_IF_ERROR(a->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(b->SignIn(ctx.user()));

  OVERSYNC_RETURN_IF_ERROR(a->Exec("BEGIN;" + InsertUser(1, "A1") + InsertUser(2, "A2") +
                                   InsertUser(3, "A3") + "COMMIT;"));
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->Exec("BEGIN;" + InsertUser(11, "B1") + InsertUser(12, "B2") +
                                   InsertUser(13, "B3") + "COMMIT;"));
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());

  OVERSYNC_RETURN_IF_ERROR(a->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1))));
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->Exec(SetUser(12, "B2-updated", Stamp(5))));
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());

  // Delete, re-add and update the same id across both devices.
  OVERSYNC_RETURN_IF_ERROR(a->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(3))));
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(a->Exec(InsertUser(3, "A3-readded", Stamp(6))));
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(b->Exec(SetUser(3, "A3-updated", Stamp(7))));
  OVERSYNC_RETURN_IF_ERROR(b->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(a->SyncRound());

  OVERSYNC_RETURN_IF_ERROR(
      ExpectConverged(ctx, *a, *b, {Uuid(2), Uuid(3), Uuid(11), Uuid(12), Uuid(13)}));
  for (Device* device : {a, b}) {
    OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*device, "users", Uuid(3), "name", "A3-updated"));
    OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*device, "users", Uuid(12), "name", "B2-updated"));
    OVERSYNC_RETURN_IF_ERROR(ExpectClean(*device));
  }
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerValue(ctx, ctx.user(), "users", Uuid(3), "name", "A3-updated"));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerValue(ctx, ctx.user(), "users", Uuid(12), "name", "B2-updated"));
  return ExpectServerCount(ctx, ctx.user(), "users", 5);
}

// Real offline periods: the transport fails every request; writes queue up locally and sync
// after reconnecting; the peer converges.
Status RunOfflineOnline(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
  OVERSYNC_ASSIGN_OR_RETURN(Device * tablet, ctx.NewDevice("tablet"));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(tablet->SignIn(ctx.user()));

  phone->transport().SetOffline(true);
  std::string sql = "BEGIN;";
  for (int i = 1; i <= 5; ++i) sql += InsertUser(i, fmt::format("offline-{}", i));
  sql += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(sql));
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(SetUser(1, "offline-1-edited", Stamp(9))));
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(5))));
  Result<oversqlite::PushReport> offline_push = phone->PushOnce();
  OVERSYNC_SIM_EXPECT(!offline_push.has_value(), "push succeeded while offline");
  ctx.Count("offline_push_failures", 1);
  Result<oversqlite::RemoteSyncReport> offline_pull = phone->PullOnce();
  OVERSYNC_SIM_EXPECT(!offline_pull.has_value(), "pull succeeded while offline");
  // Profile A: the failed push froze the dirty rows into the outbox before its first request
  // (the never-synced insert deleted again drops out: 4 rows). Profile B: its protocol gate (the
  // capabilities request) failed before the freeze, so the 5 dirty rows are still as written.
  const std::int64_t want_pending =
      phone->client().wire_profile() == "jcs_uniform_numeric_strings_v1" ? 5 : 4;
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PendingSyncStatus offline_pending,
                            phone->client().GetPendingSyncStatus());
  OVERSYNC_SIM_EXPECT(
      offline_pending.has_pending_sync_data && offline_pending.pending_row_count == want_pending,
      "offline pending rows {}, want {}", offline_pending.pending_row_count, want_pending);
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "users", 0));

  phone->transport().SetOffline(false);
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, phone->Push());
  OVERSYNC_SIM_EXPECT(pushed.outcome == PushOutcome::kCommitted, "push after reconnect: {}",
                      oversqlite::PushOutcomeName(pushed.outcome));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_RETURN_IF_ERROR(tablet->Pull());
  const std::set<std::string> four = {Uuid(1), Uuid(2), Uuid(3), Uuid(4)};
  OVERSYNC_RETURN_IF_ERROR(ExpectConverged(ctx, *phone, *tablet, four));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectDeviceValue(*tablet, "users", Uuid(1), "name", "offline-1-edited"));

  // Second cycle: the tablet goes offline, edits, comes back; the phone converges.
  tablet->transport().SetOffline(true);
  OVERSYNC_RETURN_IF_ERROR(tablet->Exec(SetUser(2, "tablet-offline-2", Stamp(11))));
  OVERSYNC_RETURN_IF_ERROR(tablet->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(3))));
  OVERSYNC_SIM_EXPECT(!tablet->PushOnce().has_value(), "tablet push succeeded while offline");
  ctx.Count("offline_push_failures", 1);
  tablet->transport().SetOffline(false);
  OVERSYNC_RETURN_IF_ERROR(tablet->SyncRound());
  OVERSYNC_RETURN_IF_ERROR(phone->Pull());
  OVERSYNC_RETURN_IF_ERROR(ExpectConverged(ctx, *phone, *tablet, {Uuid(1), Uuid(2), Uuid(4)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*phone, "users", Uuid(2), "name", "tablet-offline-2"));
  return ExpectServerValue(ctx, ctx.user(), "users", Uuid(2), "name", "tablet-offline-2");
}

// Three conflict cases, each resolved by a different resolver on device 2.
Status RunConflicts(ScenarioContext& ctx) {
  const auto small_chunks = [](oversqlite::Config& config) { config.upload_limit = 3; };
  OVERSYNC_ASSIGN_OR_RETURN(Device * one, ctx.NewDevice("device-1", small_chunks));
  OVERSYNC_ASSIGN_OR_RETURN(Device * two, ctx.NewDevice("device-2", small_chunks));
  OVERSYNC_RETURN_IF_ERROR(one->SignIn(ctx.user()));
  // Baseline: per case one target (c*10+1) and six siblings (c*10+2 .. c*10+7).
  std::string sql = "BEGIN;";
  for (int c = 0; c < 3; ++c) {
    for (int k = 1; k <= 7; ++k) sql += InsertUser(c * 10 + k, fmt::format("base-{}-{}", c, k));
  }
  sql += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(one->Exec(sql));
  OVERSYNC_RETURN_IF_ERROR(one->Push());
  OVERSYNC_RETURN_IF_ERROR(two->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(two->Pull());
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*two, "users", 21));

  auto merge_calls = std::make_shared<std::atomic<int>>(0);
  // Latest updated_at wins, as a KeepMerged of the winning side's payload.
  const oversqlite::Resolver latest_wins =
      [merge_calls](
          const oversqlite::ConflictContext& conflict) -> Result<oversqlite::MergeResult> {
    merge_calls->fetch_add(1);
    if (!conflict.local_payload.has_value() || !conflict.server_row_payload.has_value()) {
      return oversqlite::MergeResult::AcceptServer();
    }
    const protocol::JsonValue* local = conflict.local_payload->Find("updated_at");
    const protocol::JsonValue* server = conflict.server_row_payload->Find("updated_at");
    if (local == nullptr || server == nullptr || !local->is_string() || !server->is_string()) {
      return oversqlite::MergeResult::AcceptServer();
    }
    OVERSYNC_ASSIGN_OR_RETURN(TimePoint local_at, ParseRfc3339(local->as_string()));
    OVERSYNC_ASSIGN_OR_RETURN(TimePoint server_at, ParseRfc3339(server->as_string()));
    return oversqlite::MergeResult::KeepMerged(local_at > server_at ? *conflict.local_payload
                                                                    : *conflict.server_row_payload);
  };

  struct Case {
    std::string_view name;
    oversqlite::Resolver resolver;
    bool device_two_wins;
    int one_stamp;
    int two_stamp;
  };
  const std::array<Case, 3> cases = {{
      {"server-wins", oversqlite::ServerWinsResolver(), false, 10, 20},
      {"client-wins", oversqlite::ClientWinsResolver(), true, 30, 40},
      {"latest-updated-at", latest_wins, true, 50, 55},
  }};
  for (int c = 0; c < 3; ++c) {
    const Case& kase = cases.at(static_cast<std::size_t>(c));
    const int target = c * 10 + 1;
    const std::string one_name = fmt::format("d1-{}", kase.name);
    const std::string two_name = fmt::format("d2-{}", kase.name);
    OVERSYNC_RETURN_IF_ERROR(one->Exec(SetUser(target, one_name, Stamp(kase.one_stamp))));
    OVERSYNC_RETURN_IF_ERROR(one->Push());

    std::string edits = "BEGIN;" + SetUser(target, two_name, Stamp(kase.two_stamp));
    for (int k = 2; k <= 7; ++k) {
      edits += SetUser(c * 10 + k, fmt::format("d2-sibling-{}-{}", c, k), Stamp(kase.two_stamp));
    }
    edits += "COMMIT;";
    OVERSYNC_RETURN_IF_ERROR(two->Exec(edits));
    two->client().SetResolver(kase.resolver);
    two->client().ResetPushTransferDiagnostics();
    OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, two->Push());
    const oversqlite::PushTransferDiagnostics diag = two->client().GetPushTransferDiagnostics();
    ctx.Count("conflict_push_sessions", diag.sessions_created);
    ctx.Count("conflict_push_chunks", diag.chunks_uploaded);
    OVERSYNC_SIM_EXPECT(pushed.outcome == PushOutcome::kCommitted, "{}: push outcome {}", kase.name,
                        oversqlite::PushOutcomeName(pushed.outcome));
    OVERSYNC_SIM_EXPECT(diag.sessions_created == 2 && diag.chunks_uploaded >= 4,
                        "{}: device 2 used {} push sessions and {} chunks, want 2 and >= 4",
                        kase.name, diag.sessions_created, diag.chunks_uploaded);
    OVERSYNC_RETURN_IF_ERROR(ExpectClean(*two));
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t stage,
                              two->Int("SELECT count(*) FROM _sync_push_stage"));
    OVERSYNC_SIM_EXPECT(stage == 0, "{}: device 2 kept {} push stage rows", kase.name, stage);
    OVERSYNC_RETURN_IF_ERROR(one->Pull());
    OVERSYNC_RETURN_IF_ERROR(two->Pull());

    const std::string& winner = kase.device_two_wins ? two_name : one_name;
    OVERSYNC_ASSIGN_OR_RETURN(
        TimePoint winner_at,
        Instant(Stamp(kase.device_two_wins ? kase.two_stamp : kase.one_stamp)));
    for (Device* device : {one, two}) {
      OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*device, "users", Uuid(target), "name", winner));
      OVERSYNC_RETURN_IF_ERROR(
          ExpectDeviceValue(*device, "users", Uuid(target), "email", winner + "@example.com"));
      OVERSYNC_ASSIGN_OR_RETURN(
          std::string updated_at,
          device->Text(fmt::format("SELECT updated_at FROM users WHERE id = '{}'", Uuid(target))));
      OVERSYNC_ASSIGN_OR_RETURN(TimePoint at, Instant(updated_at));
      OVERSYNC_SIM_EXPECT(at == winner_at, "{}: {} target updated_at {} is not the winner's {}",
                          kase.name, device->name(), updated_at,
                          Stamp(kase.device_two_wins ? kase.two_stamp : kase.one_stamp));
      for (int k = 2; k <= 7; ++k) {
        OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*device, "users", Uuid(c * 10 + k), "name",
                                                   fmt::format("d2-sibling-{}-{}", c, k)));
      }
    }
    OVERSYNC_RETURN_IF_ERROR(
        ExpectServerValue(ctx, ctx.user(), "users", Uuid(target), "name", winner));
  }
  OVERSYNC_SIM_EXPECT(merge_calls->load() >= 1, "the merge resolver was never called");
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t one_users, one->Count("users"));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t two_users, two->Count("users"));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t one_seq, one->Checkpoint());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t two_seq, two->Checkpoint());
  OVERSYNC_SIM_EXPECT(one_users == 21 && two_users == 21, "user counts {} / {}, want 21", one_users,
                      two_users);
  OVERSYNC_SIM_EXPECT(one_seq == two_seq, "checkpoints differ: {} vs {}", one_seq, two_seq);
  return ExpectServerCount(ctx, ctx.user(), "users", 21);
}

// An FK graph with a self reference and a cycle travels as one bundle; a dirty device refuses
// to pull; the cascading delete arrives as exactly one bundle.
Status RunBundleFkAtomicity(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * one, ctx.NewDevice("device-1"));
  OVERSYNC_RETURN_IF_ERROR(one->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(one->Exec(fmt::format(
      "BEGIN;"
      "INSERT INTO posts (id, title, content, author_id, created_at, updated_at) "
      "  VALUES ('{post}', 'graph post', 'body', '{user}', '{t}', '{t}');"
      "INSERT INTO users (id, name, email, created_at, updated_at) "
      "  VALUES ('{user}', 'graph user', 'graph@example.com', '{t}', '{t}');"
      "INSERT INTO categories (id, name, parent_id) VALUES ('{child}', 'child', '{root}');"
      "INSERT INTO categories (id, name, parent_id) VALUES ('{root}', 'root', NULL);"
      "INSERT INTO teams (id, name, captain_member_id) VALUES ('{team}', 'team', '{member}');"
      "INSERT INTO team_members (id, name, team_id) VALUES ('{member}', 'captain', '{team}');"
      "COMMIT;",
      fmt::arg("post", Uuid(2)), fmt::arg("user", Uuid(1)), fmt::arg("root", Uuid(3)),
      fmt::arg("child", Uuid(4)), fmt::arg("team", Uuid(5)), fmt::arg("member", Uuid(6)),
      fmt::arg("t", Stamp(1)))));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t pending, one->DirtyRows());
  OVERSYNC_SIM_EXPECT(pending >= 6, "{} pending rows before the push, want >= 6", pending);
  OVERSYNC_RETURN_IF_ERROR(one->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*one));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seed_seq, one->Checkpoint());
  OVERSYNC_SIM_EXPECT(seed_seq > 0, "seed bundle seq {}", seed_seq);

  OVERSYNC_ASSIGN_OR_RETURN(Device * two, ctx.NewDevice("device-2"));
  OVERSYNC_ASSIGN_OR_RETURN(Device * three, ctx.NewDevice("device-3"));
  const std::array<std::pair<std::string_view, std::int64_t>, 5> hydrated = {
      {{"users", 1}, {"posts", 1}, {"categories", 2}, {"teams", 1}, {"team_members", 1}}};
  for (Device* device : {two, three}) {
    OVERSYNC_RETURN_IF_ERROR(device->SignIn(ctx.user()));
    OVERSYNC_RETURN_IF_ERROR(device->Rebuild());
    for (const auto& [table, count] : hydrated) {
      OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*device, table, count));
    }
  }

  OVERSYNC_RETURN_IF_ERROR(
      two->Exec(fmt::format("UPDATE users SET name = 'local edit' WHERE id = '{}'", Uuid(1))));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t two_before, two->Checkpoint());
  Result<oversqlite::RemoteSyncReport> rejected = two->PullOnce();
  OVERSYNC_SIM_EXPECT(!rejected.has_value(), "device 2 pulled with a dirty row");
  OVERSYNC_SIM_EXPECT(
      oversqlite::ClientErrorKindOf(rejected.error()) == ClientErrorKind::kDirtyStateRejected,
      "device 2 pull failed with {}, want DirtyStateRejected", rejected.error().ToString());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t two_after, two->Checkpoint());
  OVERSYNC_SIM_EXPECT(two_after == two_before, "device 2 checkpoint moved {} -> {}", two_before,
                      two_after);

  OVERSYNC_RETURN_IF_ERROR(one->Exec(fmt::format(
      "BEGIN; DELETE FROM posts WHERE id = '{}'; DELETE FROM users WHERE id = '{}';"
      "DELETE FROM categories WHERE id = '{}'; DELETE FROM teams WHERE id = '{}'; COMMIT;",
      Uuid(2), Uuid(1), Uuid(3), Uuid(5))));
  OVERSYNC_RETURN_IF_ERROR(one->Push());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t delete_seq, one->Checkpoint());
  OVERSYNC_SIM_EXPECT(delete_seq > seed_seq, "delete bundle seq {} <= seed seq {}", delete_seq,
                      seed_seq);

  const std::int64_t bundles_before = ctx.traffic().bundles_pulled.load();
  OVERSYNC_RETURN_IF_ERROR(three->Pull());
  const std::int64_t applied = ctx.traffic().bundles_pulled.load() - bundles_before;
  OVERSYNC_SIM_EXPECT(applied == 1, "device 3 pulled {} bundles, want 1", applied);
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t three_seq, three->Checkpoint());
  OVERSYNC_SIM_EXPECT(three_seq == delete_seq, "device 3 checkpoint {}, want {}", three_seq,
                      delete_seq);
  for (const auto& [table, count] : hydrated) {
    static_cast<void>(count);
    OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*three, table, 0));
    OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), table, 0));
  }
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t live, ctx.pg()->LiveRowStates(ctx.user()));
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t bundles, ctx.pg()->Bundles(ctx.user()));
    OVERSYNC_SIM_EXPECT(live == 0, "server: {} live row_state rows after the delete", live);
    OVERSYNC_SIM_EXPECT(bundles >= 2, "server: {} bundles, want >= 2", bundles);
  }
  return {};
}

}  // namespace oversync::sim
