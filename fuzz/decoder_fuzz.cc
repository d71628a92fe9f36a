// libFuzzer target, compiled once per decoder (OVERSYNC_FUZZ_TARGET selects which). Each run
// feeds arbitrary bytes to one decoder; successful decodes are re-encoded (where an encoder
// exists) and decoded again, which must succeed: an accepted document never becomes
// unencodable. ASan/UBSan/LSan catch memory errors and leaks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/wire_values.h"

namespace {

using namespace oversync::protocol;  // NOLINT(google-build-using-namespace): fuzz driver

void Check(bool ok) {
  if (!ok) std::abort();
}

template <typename Decode, typename Encode, typename Redecode>
void RoundTrip(std::string_view input, Decode decode, Encode encode, Redecode redecode) {
  auto decoded = decode(input);
  if (!decoded) return;
  const std::string encoded = encode(*decoded);
  Check(redecode(encoded).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static JsonParser parser;  // reused across runs like a server worker would
#define ID(x) [](const auto& v) { return x(v); }
#define DEC(x) [](std::string_view s) { return x(s, &parser); }
#if OVERSYNC_FUZZ_TARGET == 1
  RoundTrip(input, DEC(DecodeConnectRequest), ID(EncodeConnectRequest), DEC(DecodeConnectRequest));
#elif OVERSYNC_FUZZ_TARGET == 2
  RoundTrip(input, DEC(DecodePushSessionCreateRequest), ID(EncodePushSessionCreateRequest),
            DEC(DecodePushSessionCreateRequest));
#elif OVERSYNC_FUZZ_TARGET == 3
  RoundTrip(input, DEC(DecodePushChunkRequest), ID(EncodePushChunkRequest),
            DEC(DecodePushChunkRequest));
#elif OVERSYNC_FUZZ_TARGET == 4
  RoundTrip(input, DEC(DecodeSnapshotSessionCreateRequest),
            ID(EncodeSnapshotSessionCreateRequest), DEC(DecodeSnapshotSessionCreateRequest));
#elif OVERSYNC_FUZZ_TARGET == 5
  // Client-side response decoders, one input tried against all of them.
  RoundTrip(input, DEC(DecodeConnectResponse), ID(EncodeConnectResponse),
            DEC(DecodeConnectResponse));
  RoundTrip(input, DEC(DecodePushSessionCreateResponse), ID(EncodePushSessionCreateResponse),
            DEC(DecodePushSessionCreateResponse));
  RoundTrip(input, DEC(DecodePushChunkResponse), ID(EncodePushChunkResponse),
            DEC(DecodePushChunkResponse));
  RoundTrip(input, DEC(DecodePushSessionCommitResponse), ID(EncodePushSessionCommitResponse),
            DEC(DecodePushSessionCommitResponse));
  RoundTrip(input, DEC(DecodeErrorResponse), ID(EncodeErrorResponse), DEC(DecodeErrorResponse));
  RoundTrip(input, DEC(DecodeWatchEvent), ID(EncodeWatchEvent), DEC(DecodeWatchEvent));
  RoundTrip(input, DEC(DecodeSnapshotSession), ID(EncodeSnapshotSession),
            DEC(DecodeSnapshotSession));
  RoundTrip(input, DEC(DecodeCapabilitiesResponse), ID(EncodeCapabilitiesResponse),
            DEC(DecodeCapabilitiesResponse));
  RoundTrip(input, DEC(DecodeStatusResponse), ID(EncodeStatusResponse),
            DEC(DecodeStatusResponse));
#elif OVERSYNC_FUZZ_TARGET == 6
  RoundTrip(input, DEC(DecodeCommittedBundleRowsResponse), ID(EncodeCommittedBundleRowsResponse),
            DEC(DecodeCommittedBundleRowsResponse));
#elif OVERSYNC_FUZZ_TARGET == 7
  RoundTrip(input, DEC(DecodePullResponse), ID(EncodePullResponse), DEC(DecodePullResponse));
#elif OVERSYNC_FUZZ_TARGET == 8
  RoundTrip(input, DEC(DecodeSnapshotChunkResponse), ID(EncodeSnapshotChunkResponse),
            DEC(DecodeSnapshotChunkResponse));
#elif OVERSYNC_FUZZ_TARGET == 9
  // The canonical writer: canonical output must parse and be a fixed point.
  auto canonical = CanonicalizeGo(input, parser);
  if (canonical) {
    auto again = CanonicalizeGo(*canonical, parser);
    Check(again.has_value() && *again == *canonical);
  }
  // And the writer must quote arbitrary bytes into a parseable JSON string.
  std::string quoted;
  AppendGoQuoted(input, quoted);
  Check(parser.Parse(quoted).has_value());
#elif OVERSYNC_FUZZ_TARGET == 10
  // RFC 8785 (profile B): the JCS text is a fixed point, and a document JCS accepts means the
  // same value to the Go-semantics parser, so canonicalizing Go's canonical text through JCS
  // gives the same bytes (two parse and write paths must agree).
  auto jcs = CanonicalizeJcs(input, parser);
  if (jcs) {
    auto again = CanonicalizeJcs(*jcs, parser);
    Check(again.has_value() && *again == *jcs);
    auto go = CanonicalizeGo(input, parser);
    Check(go.has_value());
    auto via_go = CanonicalizeJcs(*go, parser);
    Check(via_go.has_value() && *via_go == *jcs);
  }
  // Profile B value grammars on the raw bytes as a string value: never crash, and an accepted
  // float string is exactly the rendering of its value.
  const JsonValue as_string = JsonValue::String(std::string(input));
  for (WireValueType type : {WireValueType::kInt2, WireValueType::kInt4, WireValueType::kInt8,
                             WireValueType::kNumeric, WireValueType::kFloat4,
                             WireValueType::kFloat8, WireValueType::kBool}) {
    (void)CheckUploadedWireValue(type, as_string, "s", "t", "c");
  }
  if (auto value = ParseWireFloat(input)) Check(RenderWireFloat(*value) == input);
#else
#error "unknown OVERSYNC_FUZZ_TARGET"
#endif
#undef DEC
#undef ID
  return 0;
}
