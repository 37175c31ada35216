#include "adapters/github/status_outbox.hpp"

namespace conveyor::github {

namespace {

// True if `x` should be shown rather than `y`.
bool outranks(const commit_status& x, const commit_status& y) {
  if (x.generation != y.generation)
    return x.generation > y.generation;
  // Same generation: a final state is never undone by a pending, and among
  // equals the later one (x, as callers pass it) wins.
  return is_final(x.state) || !is_final(y.state);
}

} // namespace

std::string to_string(status_state x) {
  switch (x) {
    case status_state::pending:
      return "pending";
    case status_state::success:
      return "success";
    case status_state::failure:
      return "failure";
    case status_state::error:
      return "error";
  }
  return "unknown";
}

bool from_string(const std::string& name, status_state& out) {
  for (auto x : {status_state::pending, status_state::success,
                 status_state::failure, status_state::error}) {
    if (to_string(x) == name) {
      out = x;
      return true;
    }
  }
  return false;
}

bool is_final(status_state x) {
  return x != status_state::pending;
}

bool shows_same(const commit_status& x, const commit_status& y) {
  return x.state == y.state && x.description == y.description
         && x.target_url == y.target_url;
}

status_plan plan_status(const std::vector<commit_status>& queued,
                        const std::optional<commit_status>& last_sent) {
  status_plan plan;
  if (queued.empty())
    return plan;
  const commit_status* best = &queued.front();
  for (const auto& x : queued)
    if (&x != best && outranks(x, *best))
      best = &x;
  if (last_sent
      && (shows_same(*best, *last_sent) || !outranks(*best, *last_sent))) {
    plan.superseded = queued.size();
    return plan;
  }
  plan.send = *best;
  plan.superseded = queued.size() - 1;
  return plan;
}

} // namespace conveyor::github
