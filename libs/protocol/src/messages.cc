#include "oversync/protocol/messages.h"

#include <map>


namespace oversync::protocol {

bool IsValidSourceIdProfileB(std::string_view source_id) noexcept {
  if (source_id.empty() || source_id.size() > 256) return false;
  for (const char c : source_id) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

bool IsCanonicalUuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}


std::string_view OpName(Op op) noexcept {
  switch (op) {
    case Op::kInsert:
      return "INSERT";
    case Op::kUpdate:
      return "UPDATE";
    case Op::kDelete:
      return "DELETE";
  }
  return "INSERT";
}

bool ParseOp(std::string_view text, Op& op) noexcept {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() != 6) return false;
  char upper[6];
  for (std::size_t i = 0; i < 6; ++i) {
    const char c = text[i];
    upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view u(upper, 6);
  if (u == "INSERT") {
    op = Op::kInsert;
  } else if (u == "UPDATE") {
    op = Op::kUpdate;
  } else if (u == "DELETE") {
    op = Op::kDelete;
  } else {
    return false;
  }
  return true;
}

std::string_view ConnectResolutionName(ConnectResolution r) noexcept {
  switch (r) {
    case ConnectResolution::kRemoteAuthoritative:
      return "remote_authoritative";
    case ConnectResolution::kInitializeLocal:
      return "initialize_local";
    case ConnectResolution::kInitializeEmpty:
      return "initialize_empty";
    case ConnectResolution::kRetryLater:
      return "retry_later";
  }
  return "remote_authoritative";
}

TableSpecComparison CompareTableSpecs(const std::vector<RegisteredTableSpec>& local,
                                      const std::vector<RegisteredTableSpec>& advertised) {
  const auto index = [](const std::vector<RegisteredTableSpec>& specs) {
    std::map<std::string, const RegisteredTableSpec*> by_name;
    for (const RegisteredTableSpec& spec : specs) by_name[spec.schema + "." + spec.table] = &spec;
    return by_name;
  };
  const auto client = index(local);
  const auto server = index(advertised);
  TableSpecComparison result;
  for (const auto& [name, spec] : server) {
    const auto it = client.find(name);
    if (it == client.end()) {
      result.server_only_tables.push_back(name);
    } else if (it->second->sync_key_columns != spec->sync_key_columns) {
      result.sync_key_mismatches.push_back(
          {name, it->second->sync_key_columns, spec->sync_key_columns});
    }
  }
  for (const auto& [name, spec] : client) {
    if (!server.contains(name)) result.client_only_tables.push_back(name);
  }
  return result;
}

}  // namespace oversync::protocol
