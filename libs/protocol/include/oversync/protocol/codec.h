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
// kInvalidRequest "Failed to parse push session request". initialization_id is trimmed.
Result<PushSessionCreateRequest> DecodePushSessionCreateRequest(std::string_view body,
                                                                JsonParser* parser = nullptr);
// kInvalidRequest "Failed to parse push chunk request". Structure only; the stateless chunk rules
// (push_chunk_invalid) are in push_validation.h.
Result<PushChunkRequest> DecodePushChunkRequest(std::string_view body,
                                                JsonParser* parser = nullptr);
// kSnapshotSessionInvalid "Failed to parse snapshot session request". Empty body and `null` mean
// no request; unknown members anywhere are rejected; members are trimmed.
Result<SnapshotSessionCreateRequest> DecodeSnapshotSessionCreateRequest(
    std::string_view body, JsonParser* parser = nullptr);

// ---- responses: encode (server) ----
std::string EncodeConnectResponse(const ConnectResponse& response);
std::string EncodePushSessionCreateResponse(const PushSessionCreateResponse& response);
std::string EncodePushChunkResponse(const PushChunkResponse& response);
std::string EncodePushSessionCommitResponse(const PushSessionCommitResponse& response);
std::string EncodeErrorResponse(const ErrorResponse& response);
std::string EncodeCommittedBundleRowsResponse(const CommittedBundleRowsResponse& response);
std::string EncodePullResponse(const PullResponse& response);
std::string EncodeWatchEvent(const WatchEvent& event);
std::string EncodeSnapshotSession(const SnapshotSession& session);
std::string EncodeSnapshotChunkResponse(const SnapshotChunkResponse& response);
std::string EncodeCapabilitiesResponse(const CapabilitiesResponse& response);
std::string EncodeStatusResponse(const StatusResponse& response);

// ---- responses: decode (client) ----
// All return kProtocolViolation on a malformed body.
Result<ConnectResponse> DecodeConnectResponse(std::string_view body, JsonParser* parser = nullptr);
Result<PushSessionCreateResponse> DecodePushSessionCreateResponse(std::string_view body,
                                                                  JsonParser* parser = nullptr);
Result<PushChunkResponse> DecodePushChunkResponse(std::string_view body,
                                                  JsonParser* parser = nullptr);
Result<PushSessionCommitResponse> DecodePushSessionCommitResponse(std::string_view body,
                                                                  JsonParser* parser = nullptr);
Result<ErrorResponse> DecodeErrorResponse(std::string_view body, JsonParser* parser = nullptr);
Result<CommittedBundleRowsResponse> DecodeCommittedBundleRowsResponse(
    std::string_view body, JsonParser* parser = nullptr);
Result<PullResponse> DecodePullResponse(std::string_view body, JsonParser* parser = nullptr);
Result<WatchEvent> DecodeWatchEvent(std::string_view data, JsonParser* parser = nullptr);
Result<SnapshotSession> DecodeSnapshotSession(std::string_view body, JsonParser* parser = nullptr);
Result<SnapshotChunkResponse> DecodeSnapshotChunkResponse(std::string_view body,
                                                          JsonParser* parser = nullptr);
Result<CapabilitiesResponse> DecodeCapabilitiesResponse(std::string_view body,
                                                        JsonParser* parser = nullptr);
Result<StatusResponse> DecodeStatusResponse(std::string_view body, JsonParser* parser = nullptr);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_CODEC_H_
