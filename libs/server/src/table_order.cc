#include "table_order.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <queue>

#include "oversync/common/strings.h"

namespace oversync {
namespace {

std::optional<std::string> NormalizeTableKey(std::string_view raw) {
  std::string key = ToLowerAscii(TrimAsciiSpace(raw));
  if (key.empty()) return std::nullopt;
  const auto dot = key.find('.');
  if (dot == std::string::npos) return "public." + key;
  if (dot == 0 || dot + 1 == key.size() || key.find('.', dot + 1) != std::string::npos) {
    return std::nullopt;  // more than schema.table
  }
  return key;
}

}  // namespace

void MergeDependencyOverrides(TableDependencies& dependencies, const std::set<std::string>& tables,
                              const std::map<std::string, std::vector<std::string>>& overrides) {
  for (const auto& [child_raw, parents_raw] : overrides) {
    const std::optional<std::string> child = NormalizeTableKey(child_raw);
    if (!child || !tables.contains(*child)) continue;
    for (const std::string& parent_raw : parents_raw) {
      const std::optional<std::string> parent = NormalizeTableKey(parent_raw);
      if (!parent || !tables.contains(*parent) || *parent == *child) continue;
      dependencies[*child].insert(*parent);
    }
  }
}

std::vector<std::vector<std::string>> OrderTables(const std::set<std::string>& tables,
                                                  const TableDependencies& dependencies) {
  // Tarjan's algorithm over child -> parent edges (recursion depth is bounded by the number of
  // registered tables).
  const std::vector<std::string> nodes(tables.begin(), tables.end());
  std::map<std::string, int> index_of;
  for (std::size_t i = 0; i < nodes.size(); ++i) index_of[nodes[i]] = static_cast<int>(i);
  std::vector<std::vector<int>> edges(nodes.size());
  for (const auto& [child, parents] : dependencies) {
    const auto c = index_of.find(child);
    if (c == index_of.end()) continue;
    for (const std::string& parent : parents) {
      const auto p = index_of.find(parent);
      if (p != index_of.end() && p->second != c->second) edges[static_cast<std::size_t>(c->second)].push_back(p->second);
    }
  }
  const std::size_t n = nodes.size();
  std::vector<int> index(n, -1);
  std::vector<int> low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<int> stack;
  std::vector<int> component_of(n, -1);
  int next_index = 0;
  int components = 0;
  std::function<void(int)> connect = [&](int v) {
    const auto vi = static_cast<std::size_t>(v);
    index[vi] = low[vi] = next_index++;
    stack.push_back(v);
    on_stack[vi] = true;
    for (const int w : edges[vi]) {
      const auto wi = static_cast<std::size_t>(w);
      if (index[wi] < 0) {
        connect(w);
        low[vi] = std::min(low[vi], low[wi]);
      } else if (on_stack[wi]) {
        low[vi] = std::min(low[vi], index[wi]);
      }
    }
    if (low[vi] == index[vi]) {
      int w = -1;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[static_cast<std::size_t>(w)] = false;
        component_of[static_cast<std::size_t>(w)] = components;
      } while (w != v);
      ++components;
    }
  };
  for (std::size_t v = 0; v < n; ++v) {
    if (index[v] < 0) connect(static_cast<int>(v));
  }

  // Condensation: members (sorted, since `nodes` is sorted), parent components, pending counts.
  const auto count = static_cast<std::size_t>(components);
  std::vector<std::vector<std::string>> members(count);
  for (std::size_t v = 0; v < n; ++v) {
    members[static_cast<std::size_t>(component_of[v])].push_back(nodes[v]);
  }
  std::vector<std::set<int>> children(count);
  std::vector<int> pending_parents(count, 0);
  for (std::size_t v = 0; v < n; ++v) {
    for (const int w : edges[v]) {
      const int child_c = component_of[v];
      const int parent_c = component_of[static_cast<std::size_t>(w)];
      if (child_c != parent_c && children[static_cast<std::size_t>(parent_c)].insert(child_c).second) {
        ++pending_parents[static_cast<std::size_t>(child_c)];
      }
    }
  }
  // Kahn's algorithm; ready components ordered by their smallest member name.
  using Ready = std::pair<std::string, int>;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
  for (std::size_t c = 0; c < count; ++c) {
    if (pending_parents[c] == 0) ready.emplace(members[c].front(), static_cast<int>(c));
  }
  std::vector<std::vector<std::string>> order;
  while (!ready.empty()) {
    const int c = ready.top().second;
    ready.pop();
    order.push_back(members[static_cast<std::size_t>(c)]);
    for (const int child : children[static_cast<std::size_t>(c)]) {
      if (--pending_parents[static_cast<std::size_t>(child)] == 0) {
        ready.emplace(members[static_cast<std::size_t>(child)].front(), child);
      }
    }
  }
  return order;
}

}  // namespace oversync
