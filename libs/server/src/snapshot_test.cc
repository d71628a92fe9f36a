// Snapshot sessions against a real PostgreSQL: protocol.md §3.9-§3.11, §4.6, server.md §6 and the
// behaviours pinned by go-oversync's snapshot_sessions_test.go (server.md §9.4 rows 74-76) and
// binary_wire_test.go (row 60). Each test owns a fresh database.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "oversync/protocol/codec.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

const Actor kAnn{"ann", "dev-a"};
const Actor kAnnNew{"ann", "dev-new"};
const Actor kBen{"ben", "dev-b"};

// "table key@version" per row.
std::string Describe(const std::vector<protocol::SnapshotRow>& rows) {
  std::string out;
  for (const protocol::SnapshotRow& row : rows) {
    if (!out.empty()) out += ',';
    out += fmt::format("{} {}@{}", row.table, KeyText(row.key), row.row_version);
  }
  return out;
}

class SnapshotTest : public RuntimeTest {
 protected:
  Result<protocol::SnapshotSession> Create(const Actor& actor,
                                           std::optional<protocol::SnapshotSourceReplacement>
                                               replacement = std::nullopt) {
    protocol::SnapshotSessionCreateRequest request;
    request.source_replacement = std::move(replacement);
    return service_->CreateSnapshotSession(actor, request);
  }

  Result<protocol::SnapshotChunkResponse> Chunk(const Actor& actor, const std::string& id,
                                                std::int64_t after, std::int64_t max_rows) {
    protocol::SnapshotChunkQuery query;
    query.after_row_ordinal = after;
    query.max_rows = max_rows;
    return service_->GetSnapshotChunk(actor, id, query);
  }

  // Reads the whole session with pages of `page` rows, checking the cursor rules of §3.10.
  std::vector<protocol::SnapshotRow> ReadAll(const Actor& actor,
                                             const protocol::SnapshotSession& session,
                                             std::int64_t page) {
    std::vector<protocol::SnapshotRow> rows;
    std::int64_t after = 0;
    for (int guard = 0; guard < 1000; ++guard) {
      auto chunk = Chunk(actor, session.snapshot_id, after, page);
      EXPECT_TRUE(chunk.has_value()) << chunk.error().ToString();
      if (!chunk) break;
      EXPECT_EQ(chunk->snapshot_id, session.snapshot_id);
      EXPECT_EQ(chunk->snapshot_bundle_seq, session.snapshot_bundle_seq);
      EXPECT_EQ(chunk->next_row_ordinal, after + static_cast<std::int64_t>(chunk->rows.size()));
      EXPECT_LE(static_cast<std::int64_t>(chunk->rows.size()), page);
      after = chunk->next_row_ordinal;
      for (auto& row : chunk->rows) rows.push_back(std::move(row));
      if (!chunk->has_more) break;
    }
    EXPECT_EQ(static_cast<std::int64_t>(rows.size()), session.row_count);
    return rows;
  }

  // Three bundles over users, posts, files (bytea) and docs (text key); one user deleted and one
  // updated, so versions differ.
  void Seed() {
    InitializeScope(kAnn);
    auto first = Push(kAnn, 1,
                      {Row("users", UserKey(2), "INSERT", 0, R"({"name":"Bea","age":30})"),
                       Row("users", UserKey(1), "INSERT", 0, R"({"name":"Al","score":1.50})"),
                       Row("users", UserKey(3), "INSERT", 0, R"({"name":"Cy"})"),
                       Row("files", UserKey(9), "INSERT", 0, R"({"data":"AAEC/w=="})"),
                       Row("docs", "zeta", "INSERT", 0, R"({"body":"Z"})"),
                       Row("docs", "alpha", "INSERT", 0, R"({"body":"A"})")});
    ASSERT_TRUE(first.has_value()) << first.error().ToString();
    auto second = Push(kAnn, 2,
                       {Row("posts", UserKey(5), "INSERT", 0,
                            fmt::format(R"({{"title":"P","author_id":"{}"}})", UserKey(1))),
                        Row("users", UserKey(3), "DELETE", 1)});
    ASSERT_TRUE(second.has_value()) << second.error().ToString();
    auto third = Push(kAnn, 3, {Row("users", UserKey(2), "UPDATE", 1, R"({"name":"Bee"})")});
    ASSERT_TRUE(third.has_value()) << third.error().ToString();
  }
};

// TestSnapshotSessions_CreateAndFetchChunksAtFrozenBundleSeq, …NoGapsOrDuplicatesAcrossChunkFetches,
// …ChunkPayloadPreservesCurrentAfterImage; binary_wire_test.go …SnapshotChunk (bytea as base64).
TEST_F(SnapshotTest, FrozenChunksInTableAndKeyOrderWithCurrentAfterImages) {
  Seed();
  auto session = Create(kAnn);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  EXPECT_EQ(session->snapshot_bundle_seq, 3);
  EXPECT_EQ(session->row_count, 6);
  EXPECT_GT(session->byte_count, 0);
  EXPECT_FALSE(session->expires_at.empty());

  // A later commit is not part of the frozen session.
  ASSERT_TRUE(Push(kAnn, 4, {Row("users", UserKey(4), "INSERT", 0, R"({"name":"Di"})")}).has_value());

  const std::vector<protocol::SnapshotRow> rows = ReadAll(kAnn, *session, 2);
  // Table ids follow "schema.table" order: docs=1, files=2, posts=3, users=4; keys by bytes
  // (text keys by their UTF-8 bytes, UUIDs by their 16 bytes). The deleted user is absent.
  EXPECT_EQ(Describe(rows),
            fmt::format("docs alpha@1,docs zeta@1,files {}@1,posts {}@2,users {}@1,users {}@3",
                        UserKey(9), UserKey(5), UserKey(1), UserKey(2)));
  for (const auto& row : rows) {
    ASSERT_TRUE(row.payload.is_object());
    EXPECT_EQ(row.payload.Find("_sync_scope_id"), nullptr);
  }
  // byte_count is the sum of the stored payload texts.
  EXPECT_EQ(Scalar(fmt::format("SELECT sum(octet_length(payload_wire::text)) FROM "
                               "sync.snapshot_session_rows WHERE snapshot_id = '{}'",
                               session->snapshot_id)),
            std::to_string(session->byte_count));
  // The after-image of the updated user, and bytea as standard base64.
  ASSERT_EQ(rows.size(), 6U);
  ASSERT_NE(rows[5].payload.Find("name"), nullptr);
  ASSERT_NE(rows[5].payload.Find("age"), nullptr);
  ASSERT_NE(rows[2].payload.Find("data"), nullptr);
  EXPECT_EQ(rows[5].payload.Find("name")->as_string(), "Bee");
  EXPECT_EQ(rows[5].payload.Find("age")->as_number().lexeme, "30");
  EXPECT_EQ(rows[2].payload.Find("data")->as_string(), "AAEC/w==");
  // Empty trailing page: next stays at the end, has_more false.
  auto tail = Chunk(kAnn, session->snapshot_id, 6, 10);
  ASSERT_TRUE(tail.has_value());
  EXPECT_TRUE(tail->rows.empty());
  EXPECT_EQ(tail->next_row_ordinal, 6);
  EXPECT_FALSE(tail->has_more);
}

// TestSnapshotSessions_RepeatedSessionCreationUsesDeterministicRowOrdering and
// …ActiveSessionRemainsReadableAfterHistoryPrune.
TEST_F(SnapshotTest, DeterministicAcrossSessionsAndIndependentOfPruning) {
  Seed();
  auto a = Create(kAnn);
  auto b = Create(kAnn);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->snapshot_id, b->snapshot_id);
  EXPECT_EQ(a->byte_count, b->byte_count);
  auto chunk_a = service_->GetSnapshotChunkBody(kAnn, a->snapshot_id, {0, 100});
  auto chunk_b = service_->GetSnapshotChunkBody(kAnn, b->snapshot_id, {0, 100});
  ASSERT_TRUE(chunk_a.has_value() && chunk_b.has_value());
  std::string body_b = *chunk_b;
  body_b.replace(body_b.find(b->snapshot_id), b->snapshot_id.size(), a->snapshot_id);
  EXPECT_EQ(*chunk_a, body_b);

  // History pruned below everything: pull now needs a snapshot, the session still serves.
  Sql("UPDATE sync.user_state SET retained_bundle_floor = 3 WHERE user_id = 'ann'");
  Sql("DELETE FROM sync.bundle_log WHERE bundle_seq <= 3");
  EXPECT_EQ(service_->ProcessPull(kAnn, {1, 10, 0}).error().code(), ErrorCode::kHistoryPruned);
  EXPECT_EQ(ReadAll(kAnn, *a, 4).size(), 6U);
}

// TestSnapshotSessions_DeleteInvalidatesFurtherChunkFetches, …InvalidCursorRejected,
// …WrongUserRejected, …ExpiredSessionRejected, …CleanupExpiredSessionsRemovesRows,
// …GetChunkDoesNotIssueSnapshotSessionUpdate.
TEST_F(SnapshotTest, CursorOwnershipExpiryAndDelete) {
  Seed();
  InitializeScope(kBen);
  auto session = Create(kAnn);
  ASSERT_TRUE(session.has_value());
  const std::string id = session->snapshot_id;

  EXPECT_EQ(Chunk(kAnn, id, -1, 10).error().code(), ErrorCode::kSnapshotChunkInvalid);
  EXPECT_EQ(Chunk(kAnn, id, 0, 0).error().message(), "max_rows must be > 0");
  EXPECT_EQ(Chunk(kAnn, "", 0, 10).error().message(), "snapshot_id must be provided");
  EXPECT_EQ(Chunk(kAnn, "not-a-uuid", 0, 10).error().code(), ErrorCode::kSnapshotSessionNotFound);
  EXPECT_EQ(Chunk(kAnn, "00000000-0000-4000-8000-00000000abcd", 0, 10).error().message(),
            "snapshot session 00000000-0000-4000-8000-00000000abcd was not found");
  auto foreign = Chunk(kBen, id, 0, 10);
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code(), ErrorCode::kSnapshotSessionForbidden);
  EXPECT_EQ(foreign.error().message(),
            fmt::format("snapshot session {} does not belong to the authenticated user", id));
  EXPECT_EQ(service_->DeleteSnapshotSession(kBen, id).code(), ErrorCode::kSnapshotSessionForbidden);

  // Reads never extend the TTL.
  const std::string expires =
      Scalar(fmt::format("SELECT expires_at FROM sync.snapshot_sessions WHERE snapshot_id = '{}'", id));
  ASSERT_TRUE(Chunk(kAnn, id, 0, 3).has_value());
  EXPECT_EQ(Scalar(fmt::format(
                "SELECT expires_at FROM sync.snapshot_sessions WHERE snapshot_id = '{}'", id)),
            expires);

  // Expiry runs on the database clock.
  Sql(fmt::format("UPDATE sync.snapshot_sessions SET expires_at = now() - interval '1 second' "
                  "WHERE snapshot_id = '{}'", id));
  auto expired = Chunk(kAnn, id, 0, 10);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), ErrorCode::kSnapshotSessionExpired);
  EXPECT_EQ(expired.error().message(),
            fmt::format("snapshot session {} has expired; start a new snapshot session", id));
  // The next create removes it with its rows.
  auto next = Create(kAnn);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(Chunk(kAnn, id, 0, 10).error().code(), ErrorCode::kSnapshotSessionNotFound);
  EXPECT_EQ(Scalar(fmt::format(
                "SELECT count(*) FROM sync.snapshot_session_rows WHERE snapshot_id = '{}'", id)),
            "0");

  // Delete (no expiry check) and then not found.
  Sql(fmt::format("UPDATE sync.snapshot_sessions SET expires_at = now() - interval '1 second' "
                  "WHERE snapshot_id = '{}'", next->snapshot_id));
  EXPECT_TRUE(service_->DeleteSnapshotSession(kAnn, next->snapshot_id).ok());
  EXPECT_EQ(Chunk(kAnn, next->snapshot_id, 0, 10).error().code(),
            ErrorCode::kSnapshotSessionNotFound);
  EXPECT_EQ(service_->DeleteSnapshotSession(kAnn, next->snapshot_id).code(),
            ErrorCode::kSnapshotSessionNotFound);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_session_rows"), "0");
}

// TestSnapshotSessions_CreateEmptySnapshot, connect_test.go TestConnect_InitializeEmptyMarks…
// and TestConnect_ReadPathsRejectBeforeInitialization.
TEST_F(SnapshotTest, EmptyScopeAndScopeGate) {
  auto refused = Create(kAnn);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kScopeUninitialized);
  EXPECT_EQ(refused.error().message(), "sync scope for user ann is not initialized");

  InitializeScope(kAnn);
  auto empty = Create(kAnn);
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_EQ(empty->snapshot_bundle_seq, 0);
  EXPECT_EQ(empty->row_count, 0);
  EXPECT_EQ(empty->byte_count, 0);
  auto chunk = Chunk(kAnn, empty->snapshot_id, 0, 10);
  ASSERT_TRUE(chunk.has_value());
  EXPECT_TRUE(chunk->rows.empty());
  EXPECT_EQ(chunk->next_row_ordinal, 0);
  EXPECT_FALSE(chunk->has_more);
  // Encoded like Go: byte_count omitted when 0, rows always present.
  EXPECT_EQ(protocol::EncodeSnapshotSession(*empty).find("byte_count"), std::string::npos);
}

// TestSnapshotSessions_RotatedCreateRetiresPreviousAndReservesReplacement,
// …RepeatedEquivalentRotationIsIdempotentForSourceState,
// …RotatedCreateRejectsConflictingReplacementTargets,
// …FirstCommitUnderReservedReplacementActivatesSource, and push_sessions_test.go
// TestPushSessions_StaleOutstandingCommitFailsClosedAfterSourceRetirement (server.md §6.2).
TEST_F(SnapshotTest, SourceRotationRetiresReservesAndIsIdempotent) {
  Seed();
  const auto replacement = [](std::string previous, std::string next, std::string reason) {
    return protocol::SnapshotSourceReplacement{std::move(previous), std::move(next),
                                               std::move(reason)};
  };
  // Validation (400 snapshot_session_invalid), in Go's order.
  EXPECT_EQ(Create(kAnn, replacement("other", "dev-new", "history_pruned")).error().message(),
            "previous_source_id must match authenticated source_id");
  EXPECT_EQ(Create(kAnn, replacement("dev-a", " ", "history_pruned")).error().message(),
            "new_source_id is required for source replacement");
  EXPECT_EQ(Create(kAnn, replacement("dev-a", "dev-a", "history_pruned")).error().message(),
            "new_source_id must differ from previous_source_id");
  EXPECT_EQ(Create(kAnn, replacement("dev-a", "dev-new", "bored")).error().code(),
            ErrorCode::kSnapshotSessionInvalid);

  // A staged push of the old source, committed after the rotation, fails closed.
  protocol::PushSessionCreateRequest staged_create;
  staged_create.source_bundle_id = 4;
  staged_create.planned_row_count = 1;
  auto staged = service_->CreatePushSession(kAnn, staged_create);
  ASSERT_TRUE(staged.has_value()) << staged.error().ToString();
  protocol::PushChunkRequest staged_chunk;
  staged_chunk.rows = {Row("users", UserKey(7), "INSERT", 0, R"({"name":"late"})")};
  ASSERT_TRUE(service_->UploadPushChunk(kAnn, staged->push_id, std::move(staged_chunk)).has_value());

  auto rotated = Create(kAnn, replacement(" dev-a ", "dev-new", "source_retired"));
  ASSERT_TRUE(rotated.has_value()) << rotated.error().ToString();
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || state || ':' || "
                   "max_committed_source_bundle_id || ':' || replaced_by_source_id || ':' || "
                   "retirement_reason, ',' ORDER BY source_id) FROM sync.source_state"),
            "dev-a:retired:3:dev-new:source_retired,dev-new:reserved:0::");
  auto late = service_->CommitPushSession(kAnn, staged->push_id);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), ErrorCode::kSourceRetired);
  EXPECT_EQ(late.error().message(), "source dev-a for user ann was retired and replaced by dev-new");
  // protocol.md §8 vector 31: a new push session of the retired source is refused with the
  // extended body's fields.
  protocol::PushSessionCreateRequest retired_create;
  retired_create.source_bundle_id = 4;
  retired_create.planned_row_count = 1;
  auto refused = service_->CreatePushSession(kAnn, retired_create);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kSourceRetired);
  const auto* detail = refused.error().detail<protocol::SourceRetiredDetail>();
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->source_id, "dev-a");
  EXPECT_EQ(detail->replaced_by_source_id, "dev-new");

  // The same rotation again is idempotent; a different target is source_retired; a known target
  // for a fresh rotation is source_replacement_invalid.
  ASSERT_TRUE(Create(kAnn, replacement("dev-a", "dev-new", "source_retired")).has_value());
  auto conflicting = Create(kAnn, replacement("dev-a", "dev-other", "source_retired"));
  ASSERT_FALSE(conflicting.has_value());
  EXPECT_EQ(conflicting.error().code(), ErrorCode::kSourceRetired);
  auto known = Create(kAnnNew, replacement("dev-new", "dev-a", "history_pruned"));
  ASSERT_FALSE(known.has_value());
  EXPECT_EQ(known.error().code(), ErrorCode::kSourceReplacementInvalid);
  EXPECT_EQ(known.error().message(), "replacement source dev-a is already known for user ann");

  // The replacement's first commit (source_bundle_id 1) activates it.
  auto first = Push(kAnnNew, 1, {Row("users", UserKey(8), "INSERT", 0, R"({"name":"new"})")});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(Scalar("SELECT state || ':' || max_committed_source_bundle_id FROM sync.source_state "
                   "WHERE source_id = 'dev-new'"),
            "active:1");
  // Once active, repeating the old rotation is still accepted (target reserved or active).
  EXPECT_TRUE(Create(kAnn, replacement("dev-a", "dev-new", "source_retired")).has_value());
}

// TestSnapshotSessions_RotatedCreateForNeverCommittedSourceCreatesRetiredZeroFloor.
TEST_F(SnapshotTest, RotatingANeverCommittedSourceRecordsItRetired) {
  Seed();
  const Actor fresh{"ann", "dev-fresh"};
  ASSERT_TRUE(Create(fresh, protocol::SnapshotSourceReplacement{"dev-fresh", "dev-fresh-2",
                                                                "history_pruned"})
                  .has_value());
  EXPECT_EQ(Scalar("SELECT state || ':' || max_committed_source_bundle_id || ':' || "
                   "replaced_by_source_id FROM sync.source_state WHERE source_id = 'dev-fresh'"),
            "retired:0:dev-fresh-2");
}

// protocol.md §8 vector 77: TestSnapshotSessions_OneChunkStillUsesSessionStorage. A one-row
// scope is still a stored session, served in one chunk.
TEST_F(SnapshotTest, OneRowScopeIsAOneChunkStoredSession) {
  InitializeScope(kBen);
  ASSERT_TRUE(Push(kBen, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Solo"})")})
                  .has_value());
  auto session = Create(kBen);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  EXPECT_EQ(session->row_count, 1);
  EXPECT_EQ(Scalar(fmt::format(
                "SELECT count(*) FROM sync.snapshot_session_rows WHERE snapshot_id = '{}'",
                session->snapshot_id)),
            "1");
  auto chunk = Chunk(kBen, session->snapshot_id, 0, 1000);
  ASSERT_TRUE(chunk.has_value()) << chunk.error().ToString();
  EXPECT_EQ(Describe(chunk->rows), fmt::format("users {}@1", UserKey(1)));
  EXPECT_EQ(chunk->next_row_ordinal, 1);
  EXPECT_FALSE(chunk->has_more);
}

// protocol.md §8 vector 78: TestSnapshotSessions_NoGapsOrDuplicatesAcrossChunkFetches (re-reading
// the first page of one session returns the identical body).
TEST_F(SnapshotTest, RereadingTheFirstPageReturnsIdenticalBodies) {
  Seed();
  auto session = Create(kAnn);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  auto first = service_->GetSnapshotChunkBody(kAnn, session->snapshot_id, {0, 2});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  const std::vector<protocol::SnapshotRow> rows = ReadAll(kAnn, *session, 2);
  EXPECT_EQ(rows.size(), 6U);
  auto again = service_->GetSnapshotChunkBody(kAnn, session->snapshot_id, {0, 2});
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_FALSE(first->empty());
  EXPECT_EQ(*again, *first);
}

// protocol.md §8 vector 88: TestSnapshotSessions_RotatedCreateForNeverCommittedSourceCreates-
// RetiredZeroFloor (reason source_sequence_changed): old retired at 0, new reserved at 0.
TEST_F(SnapshotTest, RotatingANeverCommittedSourceReservesTheReplacement) {
  Seed();
  const Actor fresh{"ann", "dev-fresh"};
  ASSERT_TRUE(Create(fresh, protocol::SnapshotSourceReplacement{"dev-fresh", "dev-fresh-2",
                                                                "source_sequence_changed"})
                  .has_value());
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || state || ':' || "
                   "max_committed_source_bundle_id || ':' || replaced_by_source_id || ':' || "
                   "retirement_reason, ',' ORDER BY source_id) FROM sync.source_state "
                   "WHERE source_id LIKE 'dev-fresh%'"),
            "dev-fresh:retired:0:dev-fresh-2:source_sequence_changed,dev-fresh-2:reserved:0::");
}

// protocol.md §8 vector 89: TestSnapshotSessions_RepeatedEquivalentRotationIsIdempotentForSource-
// State: both creates succeed with different snapshot_ids; still exactly two source records.
TEST_F(SnapshotTest, RepeatedRotationKeepsTwoSourceRecordsAndNewSnapshotIds) {
  Seed();
  const protocol::SnapshotSourceReplacement rotation{"dev-a", "dev-new", "history_pruned"};
  auto first = Create(kAnn, rotation);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto second = Create(kAnn, rotation);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_NE(second->snapshot_id, first->snapshot_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.source_state"), "2");
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || state || ':' || "
                   "max_committed_source_bundle_id || ':' || replaced_by_source_id, ',' "
                   "ORDER BY source_id) FROM sync.source_state"),
            "dev-a:retired:3:dev-new,dev-new:reserved:0:");
}

// protocol.md §8 vector 90: TestSnapshotSessions_RotatedCreateRejectsConflictingReplacement-
// Targets: old->new-b after old->new-a is source_retired carrying the recorded replacement;
// another old source -> new-a is source_replacement_invalid naming new-a.
TEST_F(SnapshotTest, ConflictingRotationCarriesTheRecordedReplacement) {
  Seed();
  ASSERT_TRUE(Create(kAnn, protocol::SnapshotSourceReplacement{"dev-a", "dev-new-a",
                                                               "history_pruned"})
                  .has_value());
  auto conflicting = Create(kAnn, protocol::SnapshotSourceReplacement{"dev-a", "dev-new-b",
                                                                      "history_pruned"});
  ASSERT_FALSE(conflicting.has_value());
  EXPECT_EQ(conflicting.error().code(), ErrorCode::kSourceRetired);
  const auto* detail = conflicting.error().detail<protocol::SourceRetiredDetail>();
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->source_id, "dev-a");
  EXPECT_EQ(detail->replaced_by_source_id, "dev-new-a");
  EXPECT_EQ(Scalar("SELECT replaced_by_source_id FROM sync.source_state WHERE source_id = 'dev-a'"),
            detail->replaced_by_source_id);

  const Actor other{"ann", "dev-other"};
  auto taken = Create(other, protocol::SnapshotSourceReplacement{"dev-other", "dev-new-a",
                                                                 "history_pruned"});
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code(), ErrorCode::kSourceReplacementInvalid);
  EXPECT_NE(taken.error().message().find("dev-new-a"), std::string::npos)
      << taken.error().ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.source_state WHERE source_id = 'dev-other'"), "0");
}

// TestSnapshotSessions_CreateRejectsConfiguredLimitsAndRollsBack and
// …CreateSucceedsUnderConfiguredLimits; over-limit is a 4xx here (go-oversync: 500).
class SnapshotLimitTest : public SnapshotTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.max_rows_per_snapshot_session = 5;
  }
};

TEST_F(SnapshotLimitTest, OverLimitIsRefusedAndRollsBackTheRotation) {
  Seed();  // 6 live rows
  auto refused = Create(kAnn, protocol::SnapshotSourceReplacement{"dev-a", "dev-new",
                                                                  "history_pruned"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kSnapshotSessionInvalid);
  EXPECT_EQ(refused.error().message(), "snapshot session row_count 6 exceeds limit 5");
  EXPECT_EQ(refused.error().info().http_status, 400);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_sessions"), "0");
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || state, ',') FROM sync.source_state"),
            "dev-a:active");
  // Under the limit it works.
  ASSERT_TRUE(Push(kAnn, 4, {Row("users", UserKey(1), "DELETE", 1)}).has_value());
  auto ok = Create(kAnn);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->row_count, 4);  // the user's post cascaded away with it
}

// server.md §6.3: a business row written around the capture triggers has no live row_state, and
// the snapshot refuses to serve an inconsistent copy.
TEST_F(SnapshotTest, ConsistencyCheckRefusesRowsWithoutRowState) {
  Seed();
  Sql("ALTER TABLE business.users DISABLE TRIGGER USER");
  Sql(fmt::format("INSERT INTO business.users (_sync_scope_id, id, name) VALUES ('ann', '{}', 'x')",
                  UserKey(42)));
  Sql("ALTER TABLE business.users ENABLE TRIGGER USER");
  auto refused = Create(kAnn);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(refused.error().message(),
            fmt::format("live row business.users \"{}\" is missing non-deleted sync.row_state",
                        UserKey(42)));

  Sql(fmt::format("DELETE FROM sync.row_state WHERE key_bytes = uuid_send('{}'::uuid)",
                  UserKey(42)));
  Sql("ALTER TABLE business.users DISABLE TRIGGER USER");
  Sql(fmt::format("DELETE FROM business.users WHERE id IN ('{}', '{}')", UserKey(42), UserKey(2)));
  Sql("ALTER TABLE business.users ENABLE TRIGGER USER");
  auto orphan = Create(kAnn);
  ASSERT_FALSE(orphan.has_value());
  EXPECT_EQ(orphan.error().message(),
            fmt::format("sync.row_state row business.users {} is missing a live business-table row",
                        UserKey(2)));
}

// server.md §9.4 row 78 / protocol.md §8 vector 93 (…CreateRejectsConfiguredLimitsAndRollsBack,
// max_bytes_per_snapshot_session): byte_count is the sum of octet_length(payload_wire::text)
// (what an unlimited snapshot of the same data reports); above the limit the create is refused
// with "snapshot session byte_count A exceeds limit L" and leaves no session or rows behind; at
// the limit it succeeds. Over-limit is 400 snapshot_session_invalid here (go-oversync: 500).
TEST_F(SnapshotTest, ByteLimitIsRefusedWithActualAndLimitAndRollsBack) {
  InitializeScope(kAnn);
  auto pushed = Push(kAnn, 1,
                     {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Al","age":41})"),
                      Row("users", UserKey(2), "INSERT", 0, R"({"name":"Bea","score":2.5})"),
                      Row("users", UserKey(3), "INSERT", 0, R"({"name":"Cy"})")});
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();

  // A from the payloads: an unlimited snapshot of the same data.
  auto unlimited = Create(kAnn);
  ASSERT_TRUE(unlimited.has_value()) << unlimited.error().ToString();
  const std::int64_t actual = unlimited->byte_count;
  ASSERT_GT(actual, 1);
  EXPECT_EQ(Scalar(fmt::format("SELECT sum(octet_length(payload_wire::text)) FROM "
                               "sync.snapshot_session_rows WHERE snapshot_id = '{}'",
                               unlimited->snapshot_id)),
            std::to_string(actual));
  ASSERT_TRUE(service_->DeleteSnapshotSession(kAnn, unlimited->snapshot_id).ok());
  ASSERT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_sessions"), "0");

  for (const std::int64_t limit : {std::int64_t{1}, actual - 1}) {
    SCOPED_TRACE(limit);
    config_.max_bytes_per_snapshot_session = limit;
    std::unique_ptr<RuntimeService> limited = MakeService();
    ASSERT_TRUE(limited);
    protocol::SnapshotSessionCreateRequest request;
    request.source_replacement =
        protocol::SnapshotSourceReplacement{"dev-a", "dev-new", "history_pruned"};
    auto refused = limited->CreateSnapshotSession(kAnn, request);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), ErrorCode::kSnapshotSessionInvalid);
    EXPECT_EQ(refused.error().message(),
              fmt::format("snapshot session byte_count {} exceeds limit {}", actual, limit));
    EXPECT_EQ(refused.error().info().http_status, 400);
    // Rolled back: no session, no rows, no source rotation.
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_sessions"), "0");
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_session_rows"), "0");
    EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || state, ',') FROM sync.source_state"),
              "dev-a:active");
  }

  // Exactly at the limit: accepted (the limit is exceeded only above it).
  config_.max_bytes_per_snapshot_session = actual;
  std::unique_ptr<RuntimeService> at_limit = MakeService();
  ASSERT_TRUE(at_limit);
  auto ok = at_limit->CreateSnapshotSession(kAnn, {});
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->row_count, 3);
  EXPECT_EQ(ok->byte_count, actual);
}

// server.md §9.4 row 78 (…CreateQueryPlanUsesRowStateSnapshotIndex; §1 index table: "a test asserts
// the planner uses it"): the live-row scan of the snapshot create reads sync.row_state through
// rs_user_live_snapshot_idx (or its primary key) and does not Seq Scan the business table. The
// EXPLAIN is of a SELECT with the FROM/JOIN/WHERE of the materializing statement in snapshot.cc
// for business.users (uuid key), after ANALYZE. The snapshotted scope (1,000 rows) is a small part
// of the table (another scope holds 19,000): with two equal scopes of 1,000 rows PostgreSQL 15
// rightly prefers a hash join over two Seq Scans (half of each table is read).
TEST_F(SnapshotTest, CreateStatementPlanUsesRowStateIndex) {
  for (const auto& [user, count] : {std::pair<const char*, int>{"ann", 1000}, {"ben", 19000}}) {
    auto write = service_->ExecWrite(user, "seeder", [count = count](SyncTransaction& tx) {
      return ToStatus(tx.Exec(fmt::format(
          "INSERT INTO business.users (id, name) SELECT ('00000000-0000-4000-8000-' || "
          "lpad(g::text, 12, '0'))::uuid, 'user ' || g FROM generate_series(1, {}) AS g",
          count)));
    });
    ASSERT_TRUE(write.has_value()) << write.error().ToString();
    ASSERT_EQ(write->bundle.row_count, count);
  }
  Sql("ANALYZE sync.row_state");
  Sql("ANALYZE business.users");
  const std::string user_pk = Scalar("SELECT user_pk FROM sync.user_state WHERE user_id = 'ann'");
  const std::string table_id = Scalar(
      "SELECT table_id FROM sync.table_catalog WHERE schema_name = 'business' AND "
      "table_name = 'users'");
  // The create still works on this data (and is what the EXPLAIN mirrors).
  auto session = Create(kAnn);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  EXPECT_EQ(session->row_count, 1000);

  // EXPLAIN cannot be a subquery: a helper function returns the plan text.
  Sql("CREATE FUNCTION public.plan_text(q text) RETURNS text LANGUAGE plpgsql AS $$ "
      "DECLARE line text; result_text text := ''; BEGIN "
      "FOR line IN EXECUTE 'EXPLAIN ' || q LOOP "
      "result_text := result_text || line || E'\\n'; END LOOP; "
      "RETURN result_text; END $$");
  const std::string explained = Scalar(fmt::format(
      "SELECT public.plan_text($q$"
      "SELECT row_number() OVER (ORDER BY rs.key_bytes), rs.key_bytes, rs.bundle_seq, "
      "((to_jsonb(src) - '_sync_scope_id'))::json "
      "FROM sync.row_state AS rs JOIN business.users AS src ON src._sync_scope_id = 'ann' AND "
      "src.id = encode(rs.key_bytes, 'hex')::uuid "
      "WHERE rs.user_pk = {} AND rs.table_id = {}::integer AND NOT rs.deleted$q$)",
      user_pk, table_id));
  // "Index Scan using …", "Index Only Scan using …" or "Bitmap Index Scan on …".
  const bool row_state_index = explained.find("rs_user_live_snapshot_idx") != std::string::npos ||
                               explained.find("row_state_pkey") != std::string::npos;
  EXPECT_TRUE(row_state_index) << explained;
  EXPECT_EQ(explained.find("Seq Scan on row_state"), std::string::npos) << explained;
  EXPECT_EQ(explained.find("Seq Scan on users"), std::string::npos) << explained;
}

}  // namespace
}  // namespace oversync::testing
