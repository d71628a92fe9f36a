// Single-device scenarios (client.md §10): fresh-install, normal-usage, reinstall, files-sync,
// typed-rows, user-switch.
#include <fmt/format.h>

#include <string>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "scenarios.h"

namespace oversync::sim {
namespace {

using oversqlite::AttachOutcome;
using oversqlite::AttachOutcomeName;
using oversqlite::PushOutcome;

std::string InsertUser(int n, std::string_view name) {
  return fmt::format(
      "INSERT INTO users (id, name, email, created_at, updated_at) "
      "VALUES ('{}', '{}', '{}@example.com', '{}', '{}');",
      Uuid(n), name, name, Stamp(n % 60), Stamp(n % 60));
}

std::string InsertPost(int n, int author, std::string_view title) {
  return fmt::format(
      "INSERT INTO posts (id, title, content, author_id, created_at, updated_at) "
      "VALUES ('{}', '{}', 'content of {}', '{}', '{}', '{}');",
      Uuid(n), title, title, Uuid(author), Stamp(n % 60), Stamp(n % 60));
}

// The first push of a user on a source that already pushed for another user fails with
// source_sequence_out_of_order: Detach keeps the source and its next_source_bundle_id
// (client.md §6.4, §7.4; the Go reference behaves the same), while the server numbers
// (user, source) pairs from 1. A real app handles the resulting SourceRecoveryRequired with a
// Rebuild, which rotates to a fresh source and keeps the pending rows; so does the simulator.
Result<oversqlite::PushReport> PushWithSourceRecovery(ScenarioContext& ctx, Device& device) {
  Result<oversqlite::PushReport> pushed = device.Push();
  if (pushed.has_value() || oversqlite::ClientErrorKindOf(pushed.error()) !=
                                oversqlite::ClientErrorKind::kSourceRecoveryRequired) {
    return pushed;
  }
  ctx.Note(fmt::format("source recovery after a user switch: {}", pushed.error().message()));
  ctx.Count("source_recoveries", 1);
  OVERSYNC_RETURN_IF_ERROR(device.Rebuild());
  return device.Push();
}

Status ExpectCommitted(const oversqlite::PushReport& report, std::string_view what) {
  OVERSYNC_SIM_EXPECT(report.outcome == PushOutcome::kCommitted,
                      "{}: push outcome {}, want committed", what,
                      oversqlite::PushOutcomeName(report.outcome));
  return {};
}

}  // namespace

// Offline guest mode: rows written before any sign-in are captured anonymously; Attach seeds the
// new scope from them and the push uploads them.
Status RunFreshInstall(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
  std::string sql = "BEGIN;";
  for (int i = 1; i <= 5; ++i) {
    sql += InsertUser(i, fmt::format("guest-{}", i));
    sql += InsertPost(100 + i, i, fmt::format("post-{}", i));
  }
  sql += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(sql));
  OVERSYNC_RETURN_IF_ERROR(
      phone->Exec(fmt::format("UPDATE users SET name = 'guest-1-edited' WHERE id = '{}'; "
                              "UPDATE users SET email = 'guest-2@edited.example' WHERE id = '{}';",
                              Uuid(1), Uuid(2))));
  // Posts first: the author FK.
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(
      fmt::format("DELETE FROM posts WHERE id = '{}'; DELETE FROM users WHERE id = '{}';",
                  Uuid(105), Uuid(5))));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t badge, phone->DirtyRows());
  ctx.Note(fmt::format("pending badge before sign-in: {}", badge));
  OVERSYNC_SIM_EXPECT(badge >= 8, "pending badge {} before sign-in, want >= 8", badge);

  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::AttachResult attached, phone->SignIn(ctx.user()));
  OVERSYNC_SIM_EXPECT(attached.outcome == AttachOutcome::kSeededFromLocal,
                      "attach outcome {}, want seeded_from_local",
                      AttachOutcomeName(attached.outcome));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, phone->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(pushed, "seed push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));

  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*phone, "users", 4));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*phone, "posts", 4));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerIds(ctx, ctx.user(), "users", {Uuid(1), Uuid(2), Uuid(3), Uuid(4)}));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerIds(ctx, ctx.user(), "posts", {Uuid(101), Uuid(102), Uuid(103), Uuid(104)}));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerValue(ctx, ctx.user(), "users", Uuid(1), "name", "guest-1-edited"));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerValue(ctx, ctx.user(), "users", Uuid(2), "email", "guest-2@edited.example"));
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t live, ctx.pg()->LiveRowStates(ctx.user()));
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t bundles, ctx.pg()->Bundles(ctx.user()));
    OVERSYNC_SIM_EXPECT(live == 8, "server: {} live row_state rows, want 8", live);
    OVERSYNC_SIM_EXPECT(bundles >= 1, "server: no bundle recorded");
  }
  return {};
}

// A signed-in, established user edits and pushes once.
Status RunNormalUsage(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
  std::string sql = "BEGIN;";
  for (int i = 1; i <= 10; ++i) sql += InsertUser(i, fmt::format("user-{}", i));
  sql += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(sql));
  for (int i = 1; i <= 3; ++i) {
    OVERSYNC_RETURN_IF_ERROR(phone->Exec(
        fmt::format("UPDATE users SET name = 'user-{}-updated', updated_at = '{}' WHERE id = '{}'",
                    i, Stamp(30 + i), Uuid(i))));
  }
  OVERSYNC_RETURN_IF_ERROR(
      phone->Exec(fmt::format("DELETE FROM users WHERE id IN ('{}', '{}')", Uuid(9), Uuid(10))));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, phone->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(pushed, "push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*phone, "users", 8));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "users", 8));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectServerValue(ctx, ctx.user(), "users", Uuid(2), "name", "user-2-updated"));
  return {};
}

// The app's data is deleted; a new install (new database, new source) restores from the server.
Status RunReinstall(ScenarioContext& ctx) {
  std::string first_source;
  {
    OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
    OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
    OVERSYNC_RETURN_IF_ERROR(phone->Exec("BEGIN;" + InsertUser(1, "kept-1") +
                                         InsertUser(2, "kept-2") + InsertUser(3, "kept-3") +
                                         "COMMIT;"));
    OVERSYNC_RETURN_IF_ERROR(phone->Push());
    OVERSYNC_RETURN_IF_ERROR(phone->Pull());
    first_source = phone->client().source_id();
    OVERSYNC_RETURN_IF_ERROR(phone->Uninstall());
  }
  OVERSYNC_ASSIGN_OR_RETURN(Device * reinstalled, ctx.NewDevice("phone"));
  OVERSYNC_SIM_EXPECT(reinstalled->client().source_id() != first_source,
                      "the reinstalled app reuses source {}", first_source);
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::AttachResult attached, reinstalled->SignIn(ctx.user()));
  OVERSYNC_SIM_EXPECT(attached.outcome == AttachOutcome::kUsedRemoteState,
                      "attach outcome {}, want used_remote_state",
                      AttachOutcomeName(attached.outcome));
  OVERSYNC_RETURN_IF_ERROR(reinstalled->Rebuild());
  const std::set<std::string> expected = {Uuid(1), Uuid(2), Uuid(3)};
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(*reinstalled, "users", expected));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*reinstalled, "users", Uuid(2), "name", "kept-2"));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerIds(ctx, ctx.user(), "users", expected));
  return {};
}

// BLOB UUID keys and BLOB FKs; a local cascade delete is captured and pushed.
Status RunFilesSync(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
  const auto data_hex = [](int n) { return fmt::format("{:02x}00ff{:02x}deadbeef0a0d", n, n * 7); };
  std::string sql = "BEGIN;";
  for (int f = 1; f <= 4; ++f) {
    sql += fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', 'file-{}.bin', x'{}');",
                       UuidHex(f), f, data_hex(f));
  }
  // Reviews 11,12 -> file 1; 13,14 -> file 2; 15 -> file 3; 16 -> file 4.
  const int review_file[] = {1, 1, 2, 2, 3, 4};
  for (int r = 0; r < 6; ++r) {
    sql += fmt::format(
        "INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', 'review {}', x'{}');",
        UuidHex(11 + r), 11 + r, UuidHex(review_file[r]));
  }
  sql += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(sql));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport first, phone->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(first, "files push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "files", 4));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "file_reviews", 6));
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::string hex,
        ctx.pg()->Scalar("SELECT encode(data, 'hex') FROM business.files WHERE _sync_scope_id = "
                         "$1 AND id = $2::uuid",
                         {ctx.user(), Uuid(2)}));
    OVERSYNC_SIM_EXPECT(hex == data_hex(2), "server: file 2 data is {}, want {}", hex, data_hex(2));
  }

  OVERSYNC_RETURN_IF_ERROR(
      phone->Exec(fmt::format("DELETE FROM files WHERE id = x'{}'", UuidHex(1))));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*phone, "file_reviews", 4));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t badge, phone->DirtyRows());
  OVERSYNC_SIM_EXPECT(badge == 3, "pending badge {} after the cascade delete, want 3", badge);
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport second, phone->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(second, "delete push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "files", 3));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "file_reviews", 4));
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::int64_t orphans,
        ctx.pg()->Int("SELECT count(*) FROM business.file_reviews r WHERE r._sync_scope_id = $1 "
                      "AND NOT EXISTS (SELECT 1 FROM business.files f WHERE f._sync_scope_id = "
                      "r._sync_scope_id AND f.id = r.file_id)",
                      {ctx.user()}));
    OVERSYNC_SIM_EXPECT(orphans == 0, "server: {} orphaned file reviews", orphans);
  }
  return {};
}

// NULLs stay NULL; INTEGER, REAL, BLOB and RFC 3339 text land as BIGINT, DOUBLE, BYTEA and
// TIMESTAMPTZ with the same values.
Status RunTypedRows(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone"));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(fmt::format(
      "INSERT INTO typed_rows (id, name, note, count_value, enabled_flag, rating, data, "
      "created_at) VALUES ('{}', 'all-null', NULL, NULL, 0, NULL, NULL, NULL);"
      "INSERT INTO typed_rows (id, name, note, count_value, enabled_flag, rating, data, "
      "created_at) VALUES ('{}', 'rich', 'note', 42, 1, 1.25, x'cafebabe', "
      "'2026-03-24T18:42:11Z');",
      Uuid(1), Uuid(2))));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, phone->Push());
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(pushed, "typed push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerCount(ctx, ctx.user(), "typed_rows", 2));
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::string nulls,
        ctx.pg()->Scalar("SELECT (note IS NULL AND count_value IS NULL AND rating IS NULL AND "
                         "data IS NULL AND created_at IS NULL AND enabled_flag = 0 AND name = "
                         "'all-null')::text FROM business.typed_rows WHERE _sync_scope_id = $1 "
                         "AND id = $2::uuid",
                         {ctx.user(), Uuid(1)}));
    OVERSYNC_SIM_EXPECT(nulls == "true", "server: the all-NULL typed row is not all NULL");
    OVERSYNC_ASSIGN_OR_RETURN(
        std::string rich,
        ctx.pg()->Scalar(
            "SELECT concat_ws('|', note, count_value, enabled_flag, abs(rating - 1.25) < 1e-6, "
            "encode(data, 'hex'), created_at = '2026-03-24T18:42:11Z'::timestamptz) "
            "FROM business.typed_rows WHERE _sync_scope_id = $1 AND id = $2::uuid",
            {ctx.user(), Uuid(2)}));
    OVERSYNC_SIM_EXPECT(rich == "note|42|1|t|cafebabe|t",
                        "server: rich typed row is '{}', want 'note|42|1|t|cafebabe|t'", rich);
  }
  return {};
}

// Two accounts on one device: Detach wipes A's rows locally, B's rows land only in B's scope,
// and signing A back in restores exactly A's rows.
Status RunUserSwitch(ScenarioContext& ctx) {
  const std::string alice = ctx.user();
  const std::string bob = ctx.OtherUser("b");
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("shared-phone"));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(alice));
  OVERSYNC_RETURN_IF_ERROR(
      phone->Exec("BEGIN;" + InsertUser(1, "alice-1") + InsertUser(2, "alice-2") + "COMMIT;"));
  OVERSYNC_RETURN_IF_ERROR(phone->Push());
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::DetachResult detached, phone->Detach());
  OVERSYNC_SIM_EXPECT(detached.outcome == oversqlite::DetachOutcome::kDetached,
                      "detach of {} blocked with {} pending rows", alice,
                      detached.pending_row_count);
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceCount(*phone, "users", 0));

  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::AttachResult bob_attached, phone->SignIn(bob));
  ctx.Note(fmt::format("bob attach outcome {}", AttachOutcomeName(bob_attached.outcome)));
  // Bob reuses one of Alice's keys: scopes are separate key spaces.
  OVERSYNC_RETURN_IF_ERROR(
      phone->Exec("BEGIN;" + InsertUser(1, "bob-1") + InsertUser(3, "bob-3") + "COMMIT;"));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport bob_pushed, PushWithSourceRecovery(ctx, *phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(bob_pushed, "bob's push"));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(*phone, "users", {Uuid(1), Uuid(3)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerIds(ctx, alice, "users", {Uuid(1), Uuid(2)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerIds(ctx, bob, "users", {Uuid(1), Uuid(3)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerValue(ctx, alice, "users", Uuid(1), "name", "alice-1"));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerValue(ctx, bob, "users", Uuid(1), "name", "bob-1"));

  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::DetachResult bob_detached, phone->Detach());
  OVERSYNC_SIM_EXPECT(bob_detached.outcome == oversqlite::DetachOutcome::kDetached,
                      "detach of {} blocked", bob);
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::AttachResult back, phone->SignIn(alice));
  OVERSYNC_SIM_EXPECT(back.outcome == AttachOutcome::kUsedRemoteState,
                      "attach back to {}: outcome {}, want used_remote_state", alice,
                      AttachOutcomeName(back.outcome));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(*phone, "users", {Uuid(1), Uuid(2)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*phone, "users", Uuid(1), "name", "alice-1"));
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  // Alice keeps working after the switch back; Bob's scope stays untouched.
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(InsertUser(4, "alice-4")));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport alice_pushed,
                            PushWithSourceRecovery(ctx, *phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectCommitted(alice_pushed, "alice's push after switching back"));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceIds(*phone, "users", {Uuid(1), Uuid(2), Uuid(4)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerIds(ctx, alice, "users", {Uuid(1), Uuid(2), Uuid(4)}));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerIds(ctx, bob, "users", {Uuid(1), Uuid(3)}));
  return {};
}

}  // namespace oversync::sim
