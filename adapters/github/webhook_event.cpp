#include "adapters/github/webhook_event.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

namespace conveyor::github {

namespace {

using json = nlohmann::json;

constexpr std::string_view heads_prefix = "refs/heads/";
constexpr std::string_view tags_prefix = "refs/tags/";

webhook_outcome ignored(std::string reason) {
  return {webhook_action::ignored, {}, std::move(reason)};
}

webhook_outcome invalid(std::string reason) {
  return {webhook_action::invalid, {}, std::move(reason)};
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

bool is_sha(const std::string& x) {
  if (x.size() != 40)
    return false;
  for (auto c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

// Walks the dot-separated `path` from `root`; nullptr when a step is missing
// or goes through something that is not an object (e.g. a null head_commit).
const json* find_path(const json& root, std::string_view path) {
  const json* at = &root;
  while (!path.empty()) {
    auto dot = path.find('.');
    auto key = std::string{path.substr(0, dot)};
    if (!at->is_object())
      return nullptr;
    auto i = at->find(key);
    if (i == at->end())
      return nullptr;
    at = &*i;
    path = dot == std::string_view::npos ? std::string_view{}
                                         : path.substr(dot + 1);
  }
  return at;
}

// Reads fields of one payload and keeps the first problem as a sentence, so
// that a handler reads every field it needs and checks once.
class field_reader {
public:
  field_reader(const json& root, std::string_view event)
    : root_(root), event_(event) {
    // nop
  }

  // A string that must be present and non-empty.
  std::string text(std::string_view path) {
    auto* x = find_path(root_, path);
    if (x == nullptr || x->is_null()) {
      fail(path, "is missing");
      return {};
    }
    if (!x->is_string() || x->get_ref<const std::string&>().empty()) {
      fail(path, "is not a non-empty string");
      return {};
    }
    return x->get<std::string>();
  }

  // A string that may be missing or null (then empty).
  std::string optional_text(std::string_view path) {
    auto* x = find_path(root_, path);
    if (x == nullptr || x->is_null())
      return {};
    if (!x->is_string()) {
      fail(path, "is not a string");
      return {};
    }
    return x->get<std::string>();
  }

  // A boolean that may be missing (then `fallback`).
  bool flag(std::string_view path, bool fallback) {
    auto* x = find_path(root_, path);
    if (x == nullptr || x->is_null())
      return fallback;
    if (!x->is_boolean()) {
      fail(path, "is not a boolean");
      return fallback;
    }
    return x->get<bool>();
  }

  // A commit id: 40 lowercase hex digits.
  std::string sha(std::string_view path) {
    auto result = text(path);
    if (ok() && !is_sha(result))
      fail(path, "is not a commit sha");
    return result;
  }

  // A positive integer that fits `int32_t`.
  int32_t positive(std::string_view path) {
    auto* x = find_path(root_, path);
    if (x == nullptr || x->is_null()) {
      fail(path, "is missing");
      return 0;
    }
    if (!x->is_number_integer()) {
      fail(path, "is not an integer");
      return 0;
    }
    // Compare as signed 64-bit first: get<int32_t> would silently wrap.
    auto value = x->is_number_unsigned()
                   ? static_cast<int64_t>(std::min<uint64_t>(
                     x->get<uint64_t>(), std::numeric_limits<int64_t>::max()))
                   : x->get<int64_t>();
    if (value <= 0 || value > std::numeric_limits<int32_t>::max()) {
      fail(path, "is out of range");
      return 0;
    }
    return static_cast<int32_t>(value);
  }

  // True if `path` is missing or null.
  bool absent(std::string_view path) const {
    auto* x = find_path(root_, path);
    return x == nullptr || x->is_null();
  }

  bool ok() const {
    return error_.empty();
  }

  const std::string& error() const {
    return error_;
  }

private:
  void fail(std::string_view path, std::string_view problem) {
    if (error_.empty())
      error_ = std::string{event_} + " payload: field '" + std::string{path}
               + "' " + std::string{problem};
  }

  const json& root_;
  std::string_view event_;
  std::string error_;
};

build_request webhook_request(std::string_view delivery_id) {
  build_request req;
  req.source = "webhook";
  req.delivery_id = std::string{delivery_id};
  return req;
}

webhook_outcome on_push(std::string_view delivery_id, const json& body) {
  field_reader read{body, "push"};
  auto ref = read.text("ref");
  auto deleted = read.flag("deleted", false);
  if (!read.ok())
    return invalid(read.error());
  auto req = webhook_request(delivery_id);
  std::string what;
  if (starts_with(ref, heads_prefix)) {
    req.branch = ref.substr(heads_prefix.size());
    what = "branch '" + req.branch + "'";
  } else if (starts_with(ref, tags_prefix)) {
    req.tag = ref.substr(tags_prefix.size());
    what = "tag '" + req.tag + "'";
  } else {
    return ignored("push to '" + ref + "' is neither a branch nor a tag");
  }
  if (req.branch.empty() && req.tag.empty())
    return invalid("push payload: field 'ref' names no branch or tag: '" + ref
                   + "'");
  if (deleted)
    return ignored("push deleted " + what + ", nothing to build");
  req.ref = ref;
  req.sha = read.sha("after");
  req.repo = read.text("repository.clone_url");
  req.slug = read.text("repository.full_name");
  // head_commit is null when the push brings no commit of its own.
  req.commit_message = read.optional_text("head_commit.message");
  req.sender = read.optional_text("sender.login");
  req.event = "push";
  if (!read.ok())
    return invalid(read.error());
  return {webhook_action::build, std::move(req), {}};
}

bool builds_pull_request(const std::string& action) {
  return action == "opened" || action == "synchronize" || action == "reopened";
}

webhook_outcome on_pull_request(std::string_view delivery_id,
                                const json& body) {
  field_reader read{body, "pull_request"};
  auto action = read.text("action");
  if (!read.ok())
    return invalid(read.error());
  if (!builds_pull_request(action))
    return ignored("pull_request action '" + action
                   + "' does not trigger builds");
  auto req = webhook_request(delivery_id);
  req.event = "pull_request";
  req.pull_request = read.positive("number");
  req.sha = read.sha("pull_request.head.sha");
  req.head_branch = read.text("pull_request.head.ref");
  req.branch = read.text("pull_request.base.ref");
  req.repo = read.text("repository.clone_url");
  req.slug = read.text("repository.full_name");
  req.sender = read.optional_text("sender.login");
  // A deleted fork leaves head.repo null: its commits are still reachable
  // through refs/pull/N/head, but it must be treated as untrusted.
  if (read.absent("pull_request.head.repo")) {
    req.fork = true;
  } else {
    req.head_repo = read.text("pull_request.head.repo.full_name");
    req.fork = req.head_repo != req.slug;
  }
  if (!read.ok())
    return invalid(read.error());
  req.ref = "refs/pull/" + std::to_string(req.pull_request) + "/head";
  return {webhook_action::build, std::move(req), {}};
}

} // namespace

std::string to_string(webhook_action x) {
  switch (x) {
    case webhook_action::pong:
      return "pong";
    case webhook_action::build:
      return "build";
    case webhook_action::ignored:
      return "ignored";
    case webhook_action::invalid:
      return "invalid";
  }
  return "unknown";
}

webhook_outcome interpret_payload(std::string_view event,
                                  std::string_view delivery_id,
                                  const json& body) {
  if (event.empty())
    return invalid("the delivery has no X-GitHub-Event header");
  if (!body.is_object())
    return invalid("the body of a '" + std::string{event}
                   + "' event is not a JSON object");
  if (event == "ping")
    return {webhook_action::pong, {}, {}};
  if (event == "push")
    return on_push(delivery_id, body);
  if (event == "pull_request")
    return on_pull_request(delivery_id, body);
  return ignored("event '" + std::string{event} + "' does not trigger builds");
}

webhook_outcome interpret_webhook(std::string_view event,
                                  std::string_view delivery_id,
                                  std::string_view body) {
  auto parsed = json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded())
    return invalid("the body of a '" + std::string{event}
                   + "' event is not valid JSON");
  return interpret_payload(event, delivery_id, parsed);
}

} // namespace conveyor::github
