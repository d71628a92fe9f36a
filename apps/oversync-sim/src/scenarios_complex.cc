// complex-multi-batch (client.md §10): an FK-hostile multi-chunk phone push, a chunked snapshot
// hydrate on a laptop, a large laptop push interrupted by a crash before commit and a crash
// before replay (each followed by an app restart), the already_committed replay, a post-commit
// restart, and a phone pull after the server pruned its history (snapshot fallback). Verifies
// the transfer diagnostics, the outbox/stage/dirty state at every crash point and the final rows
// (names, emails, titles, BLOB bytes, FK integrity) on both devices and in PostgreSQL.
#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/protocol/json_value.h"
#include "oversync/server/runtime_service.h"
#include "scenarios.h"

namespace oversync::sim {
namespace {

using oversqlite::PushOutcome;
using oversqlite::RemoteSyncOutcome;

constexpr int kPhoneUsers = 5;
constexpr int kLaptopUsers = 20;
constexpr int kPostsPerUser = 20;
constexpr int kUploadLimit = 40;
constexpr int kDownloadLimit = 50;
constexpr int kSnapshotChunkRows = 25;

// Key ranges of the generated rows (one scope per scenario user, so they only need to be unique
// within the scenario).
constexpr int kPhoneUserBase = 1000;
constexpr int kPhonePostBase = 2000;
constexpr int kPhoneFileBase = 3000;
constexpr int kPhoneReviewBase = 4000;
constexpr int kLaptopUserBase = 5000;
constexpr int kLaptopPostBase = 6000;
constexpr int kLaptopFileBase = 7000;
constexpr int kLaptopReviewBase = 8000;

void SmallBatches(oversqlite::Config& config) {
  config.upload_limit = kUploadLimit;
  config.download_limit = kDownloadLimit;
  config.snapshot_chunk_rows = kSnapshotChunkRows;
}

Status SimulatedCrash(std::string_view where) {
  return Status(ErrorCode::kInternal, fmt::format("simulated crash {}", where));
}

// Deterministic binary content (includes 00 and ff bytes) of `size` bytes.
std::string BlobHex(int seed, int size) {
  std::string hex;
  std::uint32_t x = static_cast<std::uint32_t>(seed) * 2654435761U + 0x9e3779b9U;
  for (int i = 0; i < size; ++i) {
    x ^= x << 13U;
    x ^= x >> 17U;
    x ^= x << 5U;
    const unsigned byte = i == 0 ? 0x00U : (i == 1 ? 0xffU : (x & 0xffU));
    hex += fmt::format("{:02x}", byte);
  }
  return hex;
}

// The rows both devices and the server must end with, per table: id (dashed UUID) -> the
// compared columns joined with '|'.
struct Expected {
  std::map<std::string, std::string> users;     // name|email
  std::map<std::string, std::string> posts;     // title|author_id
  std::map<std::string, std::string> files;     // name|hex(data)
  std::map<std::string, std::string> reviews;   // review|file_id
};

std::string UserSql(int id, std::string_view name, std::string_view email) {
  return fmt::format(
      "INSERT INTO users (id, name, email, created_at, updated_at) "
      "VALUES ('{}', '{}', '{}', '{}', '{}');",
      Uuid(id), name, email, Stamp(id % 60), Stamp(id % 60));
}
std::string PostSql(int id, int author, std::string_view title) {
  return fmt::format(
      "INSERT INTO posts (id, title, content, author_id, created_at, updated_at) "
      "VALUES ('{}', '{}', 'content of {}', '{}', '{}', '{}');",
      Uuid(id), title, title, Uuid(author), Stamp(id % 60), Stamp(id % 60));
}
std::string FileSql(int id, std::string_view name, const std::string& hex) {
  return fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', '{}', x'{}');",
                     UuidHex(id), name, hex);
}
std::string ReviewSql(int id, int file, std::string_view review) {
  return fmt::format("INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', '{}', x'{}');",
                     UuidHex(id), review, UuidHex(file));
}

// Posts of a group before their author (FK-hostile order, legal under deferred FKs), then the
// BLOB batch with reviews before their files. Adds everything to `expected`.
std::string CreateBatchSql(int users, int user_base, int post_base, int files, int file_base,
                           int review_base, std::string_view device, Expected& expected) {
  std::string sql = "BEGIN; PRAGMA defer_foreign_keys = ON;";
  for (int u = 0; u < users; ++u) {
    const int user = user_base + u;
    for (int p = 0; p < kPostsPerUser; ++p) {
      const int post = post_base + u * kPostsPerUser + p;
      const std::string title = fmt::format("{} post {} by user {}", device, p + 1, u + 1);
      sql += PostSql(post, user, title);
      expected.posts[Uuid(post)] = title + "|" + Uuid(user);
    }
    const std::string name = fmt::format("{} user {}", device, u + 1);
    const std::string email = fmt::format("{}-user{}@example.com", device, u + 1);
    sql += UserSql(user, name, email);
    expected.users[Uuid(user)] = name + "|" + email;
  }
  for (int f = 0; f < files; ++f) {
    const int file = file_base + f;
    for (int r = 0; r < 2; ++r) {
      const int review = review_base + f * 2 + r;
      const std::string text = fmt::format("{} review {} of file {}", device, r + 1, f + 1);
      sql += ReviewSql(review, file, text);
      expected.reviews[Uuid(review)] = text + "|" + Uuid(file);
    }
    const std::string name = fmt::format("{}-file-{}.bin", device, f + 1);
    const std::string hex = BlobHex(file, 48 + f * 16);
    sql += FileSql(file, name, hex);
    expected.files[Uuid(file)] = name + "|" + hex;
  }
  sql += "COMMIT;";
  return sql;
}

// A dashed lowercase UUID from a 16-byte BLOB column (SQLite expression).
std::string DashedSql(std::string_view column) {
  return fmt::format(
      "lower(substr(hex({0}),1,8)||'-'||substr(hex({0}),9,4)||'-'||substr(hex({0}),13,4)||'-'||"
      "substr(hex({0}),17,4)||'-'||substr(hex({0}),21))",
      column);
}

Result<std::map<std::string, std::string>> Rows(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> out;
  for (const std::string& line : lines) {
    const std::size_t bar = line.find('|');
    if (bar == std::string::npos) return Error(Failed(fmt::format("bad row line '{}'", line)));
    out[line.substr(0, bar)] = line.substr(bar + 1);
  }
  return out;
}

// The first difference between two row maps ("" when equal).
std::string Diff(const std::map<std::string, std::string>& got,
                 const std::map<std::string, std::string>& want) {
  for (const auto& [id, value] : want) {
    const auto it = got.find(id);
    if (it == got.end()) return fmt::format("row {} missing (want '{}')", id, value);
    if (it->second != value) {
      return fmt::format("row {} is '{}', want '{}'", id, it->second, value);
    }
  }
  for (const auto& [id, value] : got) {
    if (want.find(id) == want.end()) return fmt::format("unexpected row {} '{}'", id, value);
  }
  return {};
}

Status ExpectDeviceRows(Device& device, const Expected& expected, std::string_view stage) {
  const std::string queries[4] = {
      "SELECT id || '|' || name || '|' || email FROM users",
      "SELECT id || '|' || title || '|' || coalesce(author_id, '') FROM posts",
      fmt::format("SELECT {} || '|' || name || '|' || lower(hex(data)) FROM files",
                  DashedSql("id")),
      fmt::format("SELECT {} || '|' || review || '|' || {} FROM file_reviews", DashedSql("id"),
                  DashedSql("file_id")),
  };
  const std::map<std::string, std::string>* wants[4] = {&expected.users, &expected.posts,
                                                        &expected.files, &expected.reviews};
  const char* tables[4] = {"users", "posts", "files", "file_reviews"};
  for (int i = 0; i < 4; ++i) {
    OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> lines, device.Column(queries[i]));
    OVERSYNC_ASSIGN_OR_RETURN(auto got, Rows(lines));
    const std::string diff = Diff(got, *wants[i]);
    OVERSYNC_SIM_EXPECT(diff.empty(), "{}: {} {} ({} rows, want {}): {}", stage, device.name(),
                        tables[i], got.size(), wants[i]->size(), diff);
  }
  // FK integrity: every reference resolves, and SQLite agrees.
  OVERSYNC_ASSIGN_OR_RETURN(
      std::int64_t orphans,
      device.Int("SELECT (SELECT count(*) FROM posts p WHERE p.author_id IS NOT NULL AND NOT "
                 "EXISTS (SELECT 1 FROM users u WHERE u.id = p.author_id)) + (SELECT count(*) "
                 "FROM file_reviews r WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = "
                 "r.file_id))"));
  OVERSYNC_SIM_EXPECT(orphans == 0, "{}: {} has {} rows with dangling FKs", stage, device.name(),
                      orphans);
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> violations,
                            device.Column("PRAGMA foreign_key_check"));
  OVERSYNC_SIM_EXPECT(violations.empty(), "{}: {} foreign_key_check reports {} violations", stage,
                      device.name(), violations.size());
  return {};
}

Status ExpectServerRows(ScenarioContext& ctx, const Expected& expected) {
  if (ctx.pg() == nullptr) return {};
  const char* queries[4] = {
      "SELECT id::text || '|' || name || '|' || email FROM business.users WHERE _sync_scope_id "
      "= $1",
      "SELECT id::text || '|' || title || '|' || coalesce(author_id::text, '') FROM "
      "business.posts WHERE _sync_scope_id = $1",
      "SELECT id::text || '|' || name || '|' || encode(data, 'hex') FROM business.files WHERE "
      "_sync_scope_id = $1",
      "SELECT id::text || '|' || review || '|' || file_id::text FROM business.file_reviews WHERE "
      "_sync_scope_id = $1",
  };
  const std::map<std::string, std::string>* wants[4] = {&expected.users, &expected.posts,
                                                        &expected.files, &expected.reviews};
  const char* tables[4] = {"users", "posts", "files", "file_reviews"};
  for (int i = 0; i < 4; ++i) {
    OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> lines,
                              ctx.pg()->Column(queries[i], {ctx.user()}));
    OVERSYNC_ASSIGN_OR_RETURN(auto got, Rows(lines));
    const std::string diff = Diff(got, *wants[i]);
    OVERSYNC_SIM_EXPECT(diff.empty(), "server: business.{} ({} rows, want {}): {}", tables[i],
                        got.size(), wants[i]->size(), diff);
  }
  OVERSYNC_ASSIGN_OR_RETURN(
      std::int64_t orphans,
      ctx.pg()->Int("SELECT (SELECT count(*) FROM business.posts p WHERE p._sync_scope_id = $1 "
                    "AND p.author_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM business.users u "
                    "WHERE u._sync_scope_id = $1 AND u.id = p.author_id)) + (SELECT count(*) "
                    "FROM business.file_reviews r WHERE r._sync_scope_id = $1 AND NOT EXISTS "
                    "(SELECT 1 FROM business.files f WHERE f._sync_scope_id = $1 AND f.id = "
                    "r.file_id))",
                    {ctx.user()}));
  OVERSYNC_SIM_EXPECT(orphans == 0, "server: {} rows with dangling FKs", orphans);
  return {};
}

// The durable push state of a device.
struct PushState {
  std::int64_t dirty = 0;
  std::int64_t outbox = 0;
  std::int64_t stage = 0;
  std::string outbox_state;
};

Result<PushState> ReadPushState(Device& device) {
  PushState state;
  OVERSYNC_ASSIGN_OR_RETURN(state.dirty, device.DirtyRows());
  OVERSYNC_ASSIGN_OR_RETURN(state.outbox, device.Int("SELECT count(*) FROM _sync_outbox_rows"));
  OVERSYNC_ASSIGN_OR_RETURN(state.stage, device.Int("SELECT count(*) FROM _sync_push_stage"));
  OVERSYNC_ASSIGN_OR_RETURN(state.outbox_state,
                            device.Text("SELECT state FROM _sync_outbox_bundle"));
  if (state.outbox_state.empty()) state.outbox_state = "none";
  return state;
}

std::string Describe(const PushState& s) {
  return fmt::format("dirty {}, outbox {} ({}), stage {}", s.dirty, s.outbox, s.outbox_state,
                     s.stage);
}

// Raises the scope's retained-history floor to `floor` and deletes the history below it:
// in-process through SQL + RunRetentionPass; against an external server through SQL (with
// --database-url) or the reference server's POST /test/retention-floor, relying on its
// background retention to delete. Returns false (after a note) when no way is available.
Result<bool> PruneHistory(ScenarioContext& ctx, std::int64_t floor) {
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::vector<std::string> updated,
        ctx.pg()->Column("UPDATE sync.user_state SET retained_bundle_floor = $2::bigint WHERE "
                         "user_id = $1 RETURNING user_id",
                         {ctx.user(), std::to_string(floor)}));
    OVERSYNC_SIM_REQUIRE(updated.size() == 1, "server: no sync.user_state row for {}", ctx.user());
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(std::shared_ptr<oversqlite::Transport> http,
                              oversqlite::MakeCurlTransport());
    oversqlite::HttpRequest request;
    request.method = "POST";
    request.url = ctx.env().base_url + "/test/retention-floor";
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = fmt::format(R"({{"user_id":"{}","retained_bundle_floor":{}}})", ctx.user(),
                               floor);
    request.timeout_ms = 10'000;
    OVERSYNC_ASSIGN_OR_RETURN(oversqlite::HttpResponse response, http->Send(request));
    if (response.status != 200) {
      ctx.Note(fmt::format(
          "SKIPPED the forced prune: no database url and POST /test/retention-floor answered {}",
          response.status));
      ctx.Count("prune_skipped", 1);
      return false;
    }
  }
  if (ctx.service() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t pruned, ctx.service()->RunRetentionPass());
    ctx.Count("bundles_pruned", pruned);
    if (ctx.pg() != nullptr) {
      OVERSYNC_ASSIGN_OR_RETURN(
          std::int64_t left,
          ctx.pg()->Int("SELECT count(*) FROM sync.bundle_log b JOIN sync.user_state u ON "
                        "u.user_pk = b.user_pk WHERE u.user_id = $1 AND b.bundle_seq <= $2",
                        {ctx.user(), std::to_string(floor)}));
      OVERSYNC_SIM_REQUIRE(left == 0, "server: {} bundles at or below the floor {} survived the "
                          "retention pass", left, floor);
    }
  }
  return true;
}

}  // namespace

Status RunComplexMultiBatch(ScenarioContext& ctx) {
  Expected expected;

  // ---- phone: FK-hostile batch, multi-chunk push ----
  OVERSYNC_ASSIGN_OR_RETURN(Device * phone, ctx.NewDevice("phone", SmallBatches));
  OVERSYNC_RETURN_IF_ERROR(phone->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(CreateBatchSql(kPhoneUsers, kPhoneUserBase, kPhonePostBase,
                                                      4, kPhoneFileBase, kPhoneReviewBase,
                                                      "phone", expected)));
  const auto phone_rows = static_cast<std::int64_t>(expected.users.size() + expected.posts.size() +
                                                    expected.files.size() + expected.reviews.size());
  // Children before parents in capture order: posts and reviews get the lowest ordinals.
  OVERSYNC_RETURN_IF_ERROR(phone->Exec(
      "UPDATE _sync_dirty_rows SET dirty_ordinal = dirty_ordinal + CASE table_name "
      "WHEN 'posts' THEN 0 WHEN 'file_reviews' THEN 1000000 WHEN 'users' THEN 2000000 "
      "ELSE 3000000 END"));
  OVERSYNC_ASSIGN_OR_RETURN(
      std::int64_t hostile,
      phone->Int("SELECT (SELECT max(dirty_ordinal) FROM _sync_dirty_rows WHERE table_name = "
                 "'posts') < (SELECT min(dirty_ordinal) FROM _sync_dirty_rows WHERE table_name = "
                 "'users')"));
  OVERSYNC_SIM_EXPECT(hostile == 1, "phone: dirty ordinals not rewritten children-first");
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t pending, phone->DirtyRows());
  OVERSYNC_SIM_EXPECT(pending == phone_rows, "phone: {} dirty rows, want {}", pending, phone_rows);
  phone->client().ResetPushTransferDiagnostics();
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport phone_push, phone->Push());
  OVERSYNC_SIM_EXPECT(phone_push.outcome == PushOutcome::kCommitted, "phone push outcome {}",
                      oversqlite::PushOutcomeName(phone_push.outcome));
  const oversqlite::PushTransferDiagnostics phone_diag =
      phone->client().GetPushTransferDiagnostics();
  OVERSYNC_SIM_EXPECT(phone_diag.chunks_uploaded > 1 && phone_diag.committed_bundle_chunks_read > 1,
                      "phone push used {} chunks and read {} committed chunks, want > 1 each",
                      phone_diag.chunks_uploaded, phone_diag.committed_bundle_chunks_read);
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t phone_seq, phone->Checkpoint());
  // Its own bundle is already applied: the pull brings nothing.
  const std::int64_t pulled_before = ctx.traffic().rows_pulled.load();
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::RemoteSyncReport own_pull, phone->Pull());
  const std::int64_t own_rows = ctx.traffic().rows_pulled.load() - pulled_before;
  OVERSYNC_SIM_EXPECT(own_rows == 0 && own_pull.outcome == RemoteSyncOutcome::kAlreadyAtTarget,
                      "phone pull after its own push: {} rows, outcome {}", own_rows,
                      oversqlite::RemoteSyncOutcomeName(own_pull.outcome));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerRows(ctx, expected));
  ctx.Note(fmt::format("phone pushed {} FK-hostile rows as bundle {} in {} chunks", phone_rows,
                       phone_seq, phone_diag.chunks_uploaded));

  // ---- laptop: chunked snapshot hydrate ----
  OVERSYNC_ASSIGN_OR_RETURN(Device * laptop, ctx.NewDevice("laptop", SmallBatches));
  OVERSYNC_RETURN_IF_ERROR(laptop->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t hydrated, laptop->Count("users"));
  if (hydrated == 0) OVERSYNC_RETURN_IF_ERROR(laptop->Rebuild());
  const oversqlite::SnapshotTransferDiagnostics hydrate =
      laptop->client().GetSnapshotTransferDiagnostics();
  ctx.Count("hydrate_snapshot_chunks", hydrate.chunks_fetched);
  OVERSYNC_SIM_EXPECT(hydrate.chunks_fetched > 1, "laptop hydrate fetched {} snapshot chunks, "
                      "want > 1", hydrate.chunks_fetched);
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceRows(*laptop, expected, "laptop hydrate"));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t laptop_start, laptop->Checkpoint());
  OVERSYNC_SIM_EXPECT(laptop_start == phone_seq, "laptop hydrated at {}, want {}", laptop_start,
                      phone_seq);

  // ---- laptop: big batch + deterministic updates and deletes ----
  OVERSYNC_RETURN_IF_ERROR(laptop->Exec(CreateBatchSql(kLaptopUsers, kLaptopUserBase,
                                                       kLaptopPostBase, 5, kLaptopFileBase,
                                                       kLaptopReviewBase, "laptop", expected)));
  std::string edits = "BEGIN;";
  for (int u = 0; u < 2; ++u) {
    const std::string id = Uuid(kPhoneUserBase + u);
    const std::string name = fmt::format("phone user {} renamed on laptop", u + 1);
    const std::string email = fmt::format("renamed{}@laptop.example", u + 1);
    edits += fmt::format("UPDATE users SET name = '{}', email = '{}' WHERE id = '{}';", name,
                         email, id);
    expected.users[id] = name + "|" + email;
  }
  for (int p = 0; p < kPhoneUsers * kPostsPerUser; p += 10) {
    const int post = kPhonePostBase + p;
    const std::string title = fmt::format("phone post {} retitled on laptop", p + 1);
    edits += fmt::format("UPDATE posts SET title = '{}' WHERE id = '{}';", title, Uuid(post));
    expected.posts[Uuid(post)] = title + "|" + Uuid(kPhoneUserBase + p / kPostsPerUser);
  }
  for (int p = 0; p < kLaptopUsers * kPostsPerUser; p += 37) {
    const int post = kLaptopPostBase + p;
    const std::string title = fmt::format("laptop post {} edited", p + 1);
    edits += fmt::format("UPDATE posts SET title = '{}' WHERE id = '{}';", title, Uuid(post));
    expected.posts[Uuid(post)] = title + "|" + Uuid(kLaptopUserBase + p / kPostsPerUser);
  }
  // Delete a synced user (phone user 5) and a local-only one (laptop user 20) with their posts.
  for (const int user : {kPhoneUserBase + kPhoneUsers - 1, kLaptopUserBase + kLaptopUsers - 1}) {
    edits += fmt::format("DELETE FROM posts WHERE author_id = '{}'; DELETE FROM users WHERE id = "
                         "'{}';",
                         Uuid(user), Uuid(user));
    expected.users.erase(Uuid(user));
    for (auto it = expected.posts.begin(); it != expected.posts.end();) {
      it = it->second.ends_with("|" + Uuid(user)) ? expected.posts.erase(it) : std::next(it);
    }
  }
  // BLOBs: new bytes for phone file 1; phone file 4 deleted (its reviews cascade locally).
  {
    const int file = kPhoneFileBase;
    const std::string hex = BlobHex(file + 500, 80);
    edits += fmt::format("UPDATE files SET data = x'{}' WHERE id = x'{}';", hex, UuidHex(file));
    expected.files[Uuid(file)] = "phone-file-1.bin|" + hex;
    const int gone = kPhoneFileBase + 3;
    edits += fmt::format("DELETE FROM files WHERE id = x'{}';", UuidHex(gone));
    expected.files.erase(Uuid(gone));
    for (auto it = expected.reviews.begin(); it != expected.reviews.end();) {
      it = it->second.ends_with("|" + Uuid(gone)) ? expected.reviews.erase(it) : std::next(it);
    }
  }
  edits += "COMMIT;";
  OVERSYNC_RETURN_IF_ERROR(laptop->Exec(edits));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t laptop_dirty, laptop->DirtyRows());
  ctx.Note(fmt::format("laptop has {} dirty rows", laptop_dirty));

  // ---- crash 1: before commit ----
  laptop->client().ResetPushTransferDiagnostics();
  laptop->client().SetBeforePushCommitHook([] { return SimulatedCrash("before commit"); });
  Result<oversqlite::PushReport> crashed = laptop->PushOnce();
  OVERSYNC_SIM_EXPECT(!crashed.has_value(), "laptop push survived the before-commit crash");
  {
    const oversqlite::PushTransferDiagnostics d = laptop->client().GetPushTransferDiagnostics();
    OVERSYNC_ASSIGN_OR_RETURN(PushState s, ReadPushState(*laptop));
    OVERSYNC_SIM_EXPECT(d.chunks_uploaded > 1 && d.committed_bundle_chunks_read == 0,
                        "pre-commit crash: {} chunks uploaded, {} committed chunks read; want "
                        "> 1 and 0",
                        d.chunks_uploaded, d.committed_bundle_chunks_read);
    OVERSYNC_SIM_EXPECT(s.outbox > 0 && s.outbox_state == "prepared" && s.stage == 0 &&
                            s.dirty == 0,
                        "pre-commit crash: {}; want prepared outbox rows, no stage, no dirty",
                        Describe(s));
    ctx.Count("crash_outbox_rows", s.outbox);
    ctx.Note(fmt::format("crash before commit after {} chunks: {}", d.chunks_uploaded,
                         Describe(s)));
  }
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t head, ctx.pg()->MaxBundleSeq(ctx.user()));
    OVERSYNC_SIM_EXPECT(head == phone_seq, "server head {} after a crash before commit, want {}",
                        head, phone_seq);
  }

  // ---- restart, crash 2: before replay ----
  OVERSYNC_RETURN_IF_ERROR(laptop->Restart());
  std::int64_t outbox_rows = 0;
  {
    OVERSYNC_ASSIGN_OR_RETURN(PushState s, ReadPushState(*laptop));
    outbox_rows = s.outbox;
  }
  laptop->client().SetBeforePushReplayHook([] { return SimulatedCrash("before replay"); });
  crashed = laptop->PushOnce();
  OVERSYNC_SIM_EXPECT(!crashed.has_value(), "laptop push survived the before-replay crash");
  {
    const oversqlite::PushTransferDiagnostics d = laptop->client().GetPushTransferDiagnostics();
    OVERSYNC_ASSIGN_OR_RETURN(PushState s, ReadPushState(*laptop));
    const std::int64_t full_upload = (outbox_rows + kUploadLimit - 1) / kUploadLimit;
    OVERSYNC_SIM_EXPECT(d.sessions_created == 1 && d.chunks_uploaded == full_upload &&
                            d.chunks_uploaded > 1 && d.committed_bundle_chunks_read > 1,
                        "after restart: {} sessions, {} chunks uploaded (want 1 and all {} "
                        "from ordinal 0), {} committed chunks read (want > 1)",
                        d.sessions_created, d.chunks_uploaded, full_upload,
                        d.committed_bundle_chunks_read);
    OVERSYNC_SIM_EXPECT(s.outbox == outbox_rows && s.outbox_state == "committed_remote" &&
                            s.stage == outbox_rows && s.dirty == 0,
                        "replay crash: {}; want {} outbox rows (committed_remote), {} stage rows, "
                        "no dirty",
                        Describe(s), outbox_rows, outbox_rows);
    ctx.Note(fmt::format("crash before replay: {}", Describe(s)));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::string committed_text,
                            laptop->Text("SELECT remote_bundle_seq FROM _sync_outbox_bundle"));
  const std::int64_t committed_seq = std::stoll(committed_text.empty() ? "0" : committed_text);
  OVERSYNC_SIM_EXPECT(committed_seq > phone_seq, "laptop bundle seq {} <= phone seq {}",
                      committed_seq, phone_seq);

  // ---- restart, replay the already committed bundle ----
  OVERSYNC_RETURN_IF_ERROR(laptop->Restart());
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport replayed, laptop->Push());
  OVERSYNC_SIM_EXPECT(replayed.outcome == PushOutcome::kCommitted, "replay push outcome {}",
                      oversqlite::PushOutcomeName(replayed.outcome));
  {
    const oversqlite::PushTransferDiagnostics d = laptop->client().GetPushTransferDiagnostics();
    OVERSYNC_ASSIGN_OR_RETURN(PushState s, ReadPushState(*laptop));
    OVERSYNC_SIM_EXPECT(d.chunks_uploaded == 0, "already_committed replay uploaded {} chunks",
                        d.chunks_uploaded);
    OVERSYNC_SIM_EXPECT(s.outbox == 0 && s.stage == 0 && s.dirty == 0 && s.outbox_state == "none",
                        "after the replay: {}; want everything cleared", Describe(s));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t laptop_seq, laptop->Checkpoint());
  OVERSYNC_SIM_EXPECT(laptop_seq == committed_seq, "laptop checkpoint {} after the replay, want {}",
                      laptop_seq, committed_seq);
  if (ctx.pg() != nullptr) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t head, ctx.pg()->MaxBundleSeq(ctx.user()));
    OVERSYNC_SIM_EXPECT(head == committed_seq, "server head {} != laptop bundle {} (duplicate "
                        "commit?)", head, committed_seq);
  }
  // ---- post-commit restart: the checkpoint is durable ----
  OVERSYNC_RETURN_IF_ERROR(laptop->Restart());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t after_restart, laptop->client().LastBundleSeqSeen());
  OVERSYNC_SIM_EXPECT(after_restart == committed_seq, "laptop checkpoint {} after restart, want {}",
                      after_restart, committed_seq);
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*laptop));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceRows(*laptop, expected, "laptop after replay"));
  OVERSYNC_RETURN_IF_ERROR(ExpectServerRows(ctx, expected));

  // ---- phone pull after a forced prune: snapshot fallback ----
  OVERSYNC_ASSIGN_OR_RETURN(bool pruned, PruneHistory(ctx, committed_seq));
  phone->client().ResetSnapshotTransferDiagnostics();
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::RemoteSyncReport fallback, phone->Pull());
  const oversqlite::SnapshotTransferDiagnostics snap =
      phone->client().GetSnapshotTransferDiagnostics();
  ctx.Count("prune_snapshot_chunks", snap.chunks_fetched);
  if (pruned) {
    OVERSYNC_SIM_EXPECT(fallback.outcome == RemoteSyncOutcome::kAppliedSnapshot &&
                            snap.chunks_fetched > 1,
                        "phone pull after the prune: outcome {}, {} snapshot chunks; want "
                        "applied_snapshot and > 1",
                        oversqlite::RemoteSyncOutcomeName(fallback.outcome), snap.chunks_fetched);
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t phone_final, phone->Checkpoint());
  OVERSYNC_SIM_EXPECT(phone_final == laptop_seq, "phone landed at {}, want the laptop's {}",
                      phone_final, laptop_seq);
  OVERSYNC_RETURN_IF_ERROR(ExpectClean(*phone));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceRows(*phone, expected, "phone final"));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceRows(*laptop, expected, "laptop final"));
  return ExpectServerRows(ctx, expected);
}

}  // namespace oversync::sim
