#include "oversync/protocol/canonical_json.h"

#include <algorithm>
#include <vector>

#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {

void AppendGoCanonical(const JsonValue& value, std::string& out) {
  switch (value.kind()) {
    case JsonValue::Kind::kNull:
      out += "null";
      return;
    case JsonValue::Kind::kBool:
      out += value.as_bool() ? "true" : "false";
      return;
    case JsonValue::Kind::kNumber:
      AppendGoFloat(value.as_number().value, out);
      return;
    case JsonValue::Kind::kString:
      AppendGoQuoted(value.as_string(), out);
      return;
    case JsonValue::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const JsonValue& item : value.as_array()) {
        if (!first) out += ',';
        first = false;
        AppendGoCanonical(item, out);
      }
      out += ']';
      return;
    }
    case JsonValue::Kind::kObject: {
      const JsonObject& members = value.as_object();
      // Go decodes into a map (last duplicate wins) and marshals keys in byte order.
      std::vector<const JsonMember*> order;
      order.reserve(members.size());
      for (const JsonMember& member : members) order.push_back(&member);
      std::stable_sort(order.begin(), order.end(), [](const JsonMember* a, const JsonMember* b) {
        return a->key < b->key;
      });
      out += '{';
      bool first = true;
      for (std::size_t i = 0; i < order.size(); ++i) {
        if (i + 1 < order.size() && order[i + 1]->key == order[i]->key) continue;
        if (!first) out += ',';
        first = false;
        AppendGoQuoted(order[i]->key, out);
        out += ':';
        AppendGoCanonical(order[i]->value, out);
      }
      out += '}';
      return;
    }
  }
}

Result<std::string> CanonicalizeGo(std::string_view text, JsonParser& parser) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue value, parser.Parse(text));
  std::string out;
  out.reserve(text.size());
  AppendGoCanonical(value, out);
  return out;
}

Result<std::string> CanonicalizeGo(std::string_view text) {
  JsonParser parser;
  return CanonicalizeGo(text, parser);
}

}  // namespace oversync::protocol
