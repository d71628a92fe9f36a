// Wire profile B on the server (protocol-b.md; docs/wire-profiles.md): the pieces a
// profile-B service adds to the shared go-oversync layout. Everything here is used only when
// RuntimeState::profile is jcs_uniform_numeric_strings_v1.
#ifndef OVERSYNC_SERVER_SRC_PROFILE_B_H_
#define OVERSYNC_SERVER_SRC_PROFILE_B_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/push_validation.h"
#include "runtime_internal.h"

namespace oversync::profile_b {

bool Enabled(const internal::RuntimeState& impl) noexcept;

// Push chunk (protocol-b.md §1.5, §2.2): returns the JCS text of the payload exactly as uploaded
// (the request hash input; empty for DELETE) and then checks every typed column's value,
// replacing the SQLite boolean bridge "0"/"1" by JSON booleans in `row.payload`.
// Errors: kPushChunkInvalid ("canonicalize request payload for S.T: ..." or the
// "payload field S.T.C must use ..." family).
Result<std::string> PrepareUploadedRow(const RegisteredTableRuntime& table,
                                       protocol::ValidatedPushRow& row);

// The profile-B wire payload of a row image (a to_jsonb object after the bytea and scope-column
// rewrite of WirePayloadFromDb; numbers keep PostgreSQL's digits). Errors: kInternal when a
// stored value has no wire form (NaN, infinity), which the operation answers with its 500.
Result<protocol::JsonValue> RenderPayload(const RegisteredTableRuntime& table,
                                          const protocol::JsonValue& image);

// True when the Go-canonical text of `image` lost digits of a top-level number (an integer
// beyond 2^53, numeric scale or precision): profile B must then keep the row image itself.
bool HasLossyNumber(const protocol::JsonValue& image);

// Recomputes canonical_request_hash from the staged rows of `push_id` (protocol-b.md §4.2
// step 4). Errors: kDatabase/kUnavailable; kInternal for rows of unknown tables.
Result<std::string> StagedRequestHash(const internal::RuntimeState& impl, pg::PgConnection& tx,
                                      const std::string& push_id);

// The request hash stored at push create; nullopt when none is stored.
Result<std::optional<std::string>> SessionRequestHash(pg::PgConnection& tx,
                                                      const std::string& push_id);

struct CommittedBundleB {
  std::string bundle_hash;
  std::int64_t byte_count = 0;
  std::string canonical_request_hash;  // empty for server-originated writes / foreign commits
};

// Profile-B metadata of a committed bundle. Bundles finalized by a profile-A service or a Go
// server have none stored; their hash is then computed from the stored rows (rendered as
// profile B renders them) and nothing is written. Errors: kDatabase/kUnavailable, kInternal.
Result<CommittedBundleB> LoadCommittedBundle(const internal::RuntimeState& impl,
                                             pg::PgConnection& tx, std::int64_t user_pk,
                                             std::int64_t bundle_seq);

// The profile-B payload of a stored bundle row: `payload_exact` when stored (non-empty), else
// `payload_wire` re-rendered. Errors: kInternal.
Result<protocol::JsonValue> RenderStoredRow(const RegisteredTableRuntime& table,
                                            std::string_view payload_wire,
                                            std::string_view payload_exact,
                                            protocol::JsonParser& parser);

// Writes the bundles of a pull page (protocol-b.md §5.8) as elements of the open `bundles`
// array: bundle_seq in (after_exclusive, stable], at most max_bundles, each with row_count, its
// profile-B bundle_hash, canonical_request_hash when non-empty and profile-B payloads. Sets
// `has_more` and adds the bundles written to `bundles_served`. The page's rows are loaded once
// (not streamed: bundle hashes of foreign commits are computed before their rows are written).
// Errors: kDatabase/kUnavailable, kInternal.
Status WritePullBundles(const internal::RuntimeState& impl, pg::PgConnection& tx,
                        std::int64_t user_pk, std::int64_t after_exclusive, std::int64_t stable,
                        std::int64_t max_bundles, protocol::JsonWriter& w, bool& has_more,
                        std::int64_t& bundles_served);

}  // namespace oversync::profile_b

#endif  // OVERSYNC_SERVER_SRC_PROFILE_B_H_
