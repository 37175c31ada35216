#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// What became of one webhook delivery (GitHub's `X-GitHub-Delivery`), kept
/// by the store so that every delivery, built or not, can be looked up.
struct webhook_delivery {
  std::string delivery_id;
  std::string event;      ///< `X-GitHub-Event`, e.g. "push"
  std::string action;     ///< the payload's action, if any
  std::string outcome;    ///< "build", "ignored", "pong" or "rejected"
  std::string reason;     ///< why it was ignored or rejected
  int64_t build_id = 0;   ///< the build it made; 0: none
  int64_t received_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_delivery& x) {
  return f(caf::meta::type_name("conveyor::webhook_delivery"), x.delivery_id,
           x.event, x.action, x.outcome, x.reason, x.build_id,
           x.received_at_ms);
}

} // namespace conveyor
