#include "watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "oversync/protocol/json_value.h"
#include "pg.h"

namespace oversync {

// ---- hub ----

class HubSubscription final : public BundleChangeSubscription {
 public:
  HubSubscription(std::shared_ptr<WatchHub> hub, std::shared_ptr<WatchHub::Subscriber> subscriber)
      : hub_(std::move(hub)), subscriber_(std::move(subscriber)) {}
  HubSubscription(const HubSubscription&) = delete;
  HubSubscription& operator=(const HubSubscription&) = delete;
  ~HubSubscription() override { hub_->Remove(subscriber_); }

  Result<std::optional<BundleChangeEvent>> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(subscriber_->mu);
    subscriber_->ready.wait_for(lock, timeout,
                                [&] { return subscriber_->closed || subscriber_->slot.has_value(); });
    if (subscriber_->slot) {
      std::optional<BundleChangeEvent> event = std::move(subscriber_->slot);
      subscriber_->slot.reset();
      return event;
    }
    if (subscriber_->closed) {
      return Error(ErrorCode::kServiceUnavailable, "sync service is shutting down");
    }
    return std::optional<BundleChangeEvent>();
  }

 private:
  std::shared_ptr<WatchHub> hub_;
  std::shared_ptr<WatchHub::Subscriber> subscriber_;
};

Result<std::unique_ptr<BundleChangeSubscription>> WatchHub::Subscribe(
    std::int64_t user_pk, std::int64_t after_bundle_seq) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->user_pk = user_pk;
  subscriber->last_seq = after_bundle_seq;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Error(ErrorCode::kServiceUnavailable, "sync service is shutting down");
    subscribers_[user_pk].insert(subscriber);
  }
  return std::unique_ptr<BundleChangeSubscription>(
      std::make_unique<HubSubscription>(shared_from_this(), std::move(subscriber)));
}

void WatchHub::Remove(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mu_);
  auto it = subscribers_.find(subscriber->user_pk);
  if (it == subscribers_.end()) return;
  it->second.erase(subscriber);
  if (it->second.empty()) subscribers_.erase(it);
}

void WatchHub::Publish(std::int64_t user_pk, const BundleChangeEvent& event) {
  std::vector<std::shared_ptr<Subscriber>> targets;
  {
    std::lock_guard lock(mu_);
    auto it = subscribers_.find(user_pk);
    if (it == subscribers_.end()) return;
    targets.assign(it->second.begin(), it->second.end());
  }
  for (const auto& subscriber : targets) {
    {
      std::lock_guard lock(subscriber->mu);
      if (subscriber->closed || event.bundle_seq <= subscriber->last_seq) continue;
      subscriber->last_seq = event.bundle_seq;
      subscriber->slot = event;  // replaces an undelivered older event: coalescing
    }
    subscriber->ready.notify_one();
  }
}

std::vector<std::int64_t> WatchHub::SubscribedUsers() const {
  std::lock_guard lock(mu_);
  std::vector<std::int64_t> out;
  out.reserve(subscribers_.size());
  for (const auto& [user_pk, subs] : subscribers_) out.push_back(user_pk);
  return out;
}

int WatchHub::SubscriberCount(std::int64_t user_pk) const {
  std::lock_guard lock(mu_);
  auto it = subscribers_.find(user_pk);
  return it == subscribers_.end() ? 0 : static_cast<int>(it->second.size());
}

std::int64_t WatchHub::TotalSubscribers() const {
  std::lock_guard lock(mu_);
  std::int64_t total = 0;
  for (const auto& [user_pk, subs] : subscribers_) total += static_cast<std::int64_t>(subs.size());
  return total;
}

void WatchHub::Close() {
  std::vector<std::shared_ptr<Subscriber>> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (const auto& [user_pk, subs] : subscribers_) all.insert(all.end(), subs.begin(), subs.end());
  }
  for (const auto& subscriber : all) {
    {
      std::lock_guard lock(subscriber->mu);
      subscriber->closed = true;
    }
    subscriber->ready.notify_all();
  }
}

// ---- listener ----

WatchListener::WatchListener(std::string dsn, std::string channel, std::shared_ptr<WatchHub> hub,
                             Logger* logger)
    : dsn_(std::move(dsn)), channel_(std::move(channel)), hub_(std::move(hub)), logger_(logger) {}

WatchListener::~WatchListener() {
  Stop();
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
}

Status WatchListener::Start() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return {ErrorCode::kIo, fmt::format("watch listener: pipe2 failed (errno {})", errno)};
  }
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  thread_ = std::thread([this] { Run(); });
  return {};
}

void WatchListener::Stop() {
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const char byte = 1;
  (void)!::write(wake_write_, &byte, 1);
  thread_.join();
}

bool WatchListener::WaitUntilListening(std::chrono::milliseconds timeout) {
  std::unique_lock lock(listening_mu_);
  return listening_cv_.wait_for(lock, timeout, [&] { return listening_; });
}

bool WatchListener::WaitForWake(int timeout_ms) {
  if (stopping_.load()) return true;
  pollfd wake{wake_read_, POLLIN, 0};
  (void)::poll(&wake, 1, timeout_ms);
  return stopping_.load();
}

namespace {

// {"user_pk":N,"bundle_seq":N,"source_id":"…","source_bundle_id":N}; nullopt when malformed.
std::optional<std::pair<std::int64_t, BundleChangeEvent>> ParseNotification(
    std::string_view payload, protocol::JsonParser& parser) {
  auto value = parser.Parse(payload);
  if (!value || !value->is_object()) return std::nullopt;
  const auto integer = [&](std::string_view name) -> std::int64_t {
    const protocol::JsonValue* v = value->Find(name);
    if (v == nullptr || !v->is_number()) return 0;
    const std::string& text = v->as_number().lexeme;
    std::int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size() ? out : 0;
  };
  const std::int64_t user_pk = integer("user_pk");
  BundleChangeEvent event;
  event.bundle_seq = integer("bundle_seq");
  if (user_pk <= 0 || event.bundle_seq <= 0) return std::nullopt;
  if (const protocol::JsonValue* s = value->Find("source_id"); s != nullptr && s->is_string()) {
    event.source_id = s->as_string();
  }
  event.source_bundle_id = integer("source_bundle_id");
  return std::make_pair(user_pk, std::move(event));
}

}  // namespace

void WatchListener::Run() {
  std::chrono::milliseconds backoff{100};
  protocol::JsonParser parser;
  while (!stopping_.load()) {
    auto conn = pg::PgConnection::Connect(dsn_);
    Status listen = conn ? (*conn)->ExecScript("LISTEN " + pg::QuoteIdent(channel_))
                         : Status(std::move(conn).error());
    if (!listen.ok()) {
      logger_->Log(LogLevel::kWarn, "watch",
                   fmt::format("listener (re)connect failed, retrying in {} ms: {}",
                               backoff.count(), listen.ToString()));
      if (WaitForWake(static_cast<int>(backoff.count()))) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    pg::PgConnection& c = **conn;
    // Catch-up: notifications sent while no LISTEN was in place are lost; publish every
    // subscribed user's current head instead (stale ones are dropped by the hub).
    const std::vector<std::int64_t> users = hub_->SubscribedUsers();
    if (!users.empty()) {
      std::string array = "{";
      for (std::size_t i = 0; i < users.size(); ++i) {
        array += (i ? "," : "") + std::to_string(users[i]);
      }
      array += "}";
      auto heads = c.Exec("SELECT user_pk, next_bundle_seq - 1 FROM sync.user_state "
                          "WHERE user_pk = ANY($1::bigint[])",
                          {array});
      if (heads) {
        for (int r = 0; r < heads->rows(); ++r) {
          BundleChangeEvent event;
          event.bundle_seq = heads->Int64(r, 1).value_or(0);
          if (event.bundle_seq > 0) hub_->Publish(heads->Int64(r, 0).value_or(0), event);
        }
      }
    }
    {
      std::lock_guard lock(listening_mu_);
      listening_ = true;
    }
    listening_cv_.notify_all();
    while (!stopping_.load()) {
      pollfd fds[2] = {{c.Socket(), POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (fds[0].fd < 0) break;
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (stopping_.load()) return;
      if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
      auto notifications = c.ConsumeNotifications();
      if (!notifications) {
        logger_->Log(LogLevel::kWarn, "watch",
                     "listener connection lost: " + notifications.error().ToString());
        break;
      }
      for (const pg::PgConnection::Notification& n : *notifications) {
        if (n.channel != channel_) continue;
        auto parsed = ParseNotification(n.payload, parser);
        if (!parsed) {
          logger_->Log(LogLevel::kWarn, "watch", "ignoring malformed notification: " + n.payload);
          continue;
        }
        hub_->Publish(parsed->first, parsed->second);
      }
    }
  }
}

}  // namespace oversync
