// File: oversync/protocol/codec.h
//
// JSON encoders and decoders for every body of protocol.md §3.
//
// Encoders produce exactly the Go server's field names, member order and omission rules (e.g.
// the omitted zero `next_expected_row_ordinal`, protocol.md §3.2), compact, without the trailing
// newline (the HTTP layer adds it like Go's json.Encoder).
//
// Request decoders (server side) follow Go's encoding/json rules for those bodies (protocol.md
// §1.4): unknown members ignored (snapshot create: rejected), member names matched
// case-insensitively, last duplicate wins, integers only as integer literals, null leaves a scalar
// at its zero value. Their errors carry the endpoint's protocol code and Go's message followed by
// ": <detail>" (e.g. kInvalidRequest "Failed to parse push chunk request: rows[1].key must be an
// object").
//
// Response decoders (client side) are strict about types and required members and return
// kProtocolViolation, naming the body and the member.
//
// All functions are thread-safe except for the JsonParser passed in (one per thread); passing
// nullptr uses a temporary parser.
#ifndef OVERSYNC_PROTOCOL_CODEC_H_
#define OVERSYNC_PROTOCOL_CODEC_H_

#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/wire_profile.h"

namespace oversync::protocol {

// ---- requests: encode (client) ----
std::string EncodeConnectRequest(const ConnectRequest& request);
std::string EncodePushSessionCreateRequest(const PushSessionCreateRequest& request);
std::string EncodePushChunkRequest(const PushChunkRequest& request);
// An absent replacement encodes as "{}".
std::string EncodeSnapshotSessionCreateRequest(const SnapshotSessionCreateRequest& request);

// ---- requests: decode (server) ----
// kInvalidRequest "Failed to parse connect request" (empty body included).
Result<ConnectRequest> DecodeConnectRequest(std::string_view body, JsonParser* parser = nullptr);
// kInvalidRequest "Failed to parse push session request". initialization_id is trimmed in
// profile A and kept exactly in profile B; canonical_request_hash is read in both (checked by the
// server in profile B, ignored in A).
Result<PushSessionCreateRequest> DecodePushSessionCreateRequest(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
// kInvalidRequest "Failed to parse push chunk request". Structure only; the stateless chunk rules
// (push_chunk_invalid) are in push_validation.h.
Result<PushChunkRequest> DecodePushChunkRequest(std::string_view body,
                                                JsonParser* parser = nullptr);
// kSnapshotSessionInvalid "Failed to parse snapshot session request". Empty body and `null` mean
// no request; unknown members anywhere are rejected. Profile A trims the members; profile B keeps
// them byte for byte (protocol-b.md §5.10: the server checks them against the source-id grammar).
Result<SnapshotSessionCreateRequest> DecodeSnapshotSessionCreateRequest(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);

// ---- responses: encode (server) ----
// `profile` selects the member set where the two wire profiles differ (protocol-b.md §5):
// committed rows always carry canonical_request_hash in B; snapshot sessions and chunks always
// carry byte_count in B; capabilities always carry registered_table_specs and the seven snapshot
// limit members in B. Members that are empty/zero in profile A bodies are omitted as before.
std::string EncodeConnectResponse(const ConnectResponse& response);
std::string EncodePushSessionCreateResponse(const PushSessionCreateResponse& response);
std::string EncodePushChunkResponse(const PushChunkResponse& response);
std::string EncodePushSessionCommitResponse(const PushSessionCommitResponse& response);
std::string EncodeErrorResponse(const ErrorResponse& response);
std::string EncodeCommittedBundleRowsResponse(const CommittedBundleRowsResponse& response,
                                              WireProfileId profile = WireProfileId::kGoCanonicalV1);
std::string EncodePullResponse(const PullResponse& response);
std::string EncodeWatchEvent(const WatchEvent& event);
std::string EncodeSnapshotSession(const SnapshotSession& session,
                                  WireProfileId profile = WireProfileId::kGoCanonicalV1);
std::string EncodeSnapshotChunkResponse(const SnapshotChunkResponse& response,
                                        WireProfileId profile = WireProfileId::kGoCanonicalV1);
std::string EncodeCapabilitiesResponse(const CapabilitiesResponse& response,
                                       WireProfileId profile = WireProfileId::kGoCanonicalV1);
std::string EncodeStatusResponse(const StatusResponse& response);

// ---- responses: decode (client) ----
// All return kProtocolViolation on a malformed body. With profile B they also apply the checks
// current clients make (protocol-b.md §5, kmp-client.md §3.2): canonical_request_hash present and
// well formed in push create/commit answers and present in committed rows; snapshot byte counts
// present and consistent, chunk members exact; capabilities with registered_table_specs and the
// snapshot limits. Error bodies of snapshot_chunk_too_small / snapshot_session_limit_exceeded
// must carry their structured members in either profile.
Result<ConnectResponse> DecodeConnectResponse(std::string_view body, JsonParser* parser = nullptr);
Result<PushSessionCreateResponse> DecodePushSessionCreateResponse(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<PushChunkResponse> DecodePushChunkResponse(std::string_view body,
                                                  JsonParser* parser = nullptr);
Result<PushSessionCommitResponse> DecodePushSessionCommitResponse(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<ErrorResponse> DecodeErrorResponse(std::string_view body, JsonParser* parser = nullptr);
Result<CommittedBundleRowsResponse> DecodeCommittedBundleRowsResponse(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<PullResponse> DecodePullResponse(std::string_view body, JsonParser* parser = nullptr);
Result<WatchEvent> DecodeWatchEvent(std::string_view data, JsonParser* parser = nullptr);
Result<SnapshotSession> DecodeSnapshotSession(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<SnapshotChunkResponse> DecodeSnapshotChunkResponse(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<CapabilitiesResponse> DecodeCapabilitiesResponse(
    std::string_view body, JsonParser* parser = nullptr,
    WireProfileId profile = WireProfileId::kGoCanonicalV1);
Result<StatusResponse> DecodeStatusResponse(std::string_view body, JsonParser* parser = nullptr);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_CODEC_H_
