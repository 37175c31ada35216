#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "messages/build_request.hpp"

namespace conveyor::github {

/// What a webhook delivery asks of conveyor.
enum class webhook_action {
  pong,    ///< a `ping`: answer that the hook works
  build,   ///< build `webhook_outcome::request`
  ignored, ///< a valid event that triggers nothing; `reason` says why
  invalid, ///< the delivery cannot be understood; `reason` says why
};

/// Returns the action's name, e.g. "ignored".
std::string to_string(webhook_action x);

/// The outcome of interpreting one delivery.
struct webhook_outcome {
  webhook_action action = webhook_action::invalid;
  build_request request; ///< filled when `action` is `build`
  std::string reason;    ///< for `ignored` and `invalid`: a sentence for people
};

/// Maps a delivery to an outcome: `ping` → pong; `push` of a branch or tag
/// → a build of `after` (a deleted ref is ignored); `pull_request` opened,
/// synchronize or reopened → a build of the head commit; every other event
/// or action → ignored. `event` is `X-GitHub-Event`, `delivery_id` is
/// `X-GitHub-Delivery` (copied into the request), `body` the raw body. A body
/// that is not a JSON object, or a missing or mistyped field, gives `invalid`
/// naming the problem; never throws. The caller sets `request_id`.
webhook_outcome interpret_webhook(std::string_view event,
                                  std::string_view delivery_id,
                                  std::string_view body);

/// As `interpret_webhook`, for a body that is already parsed.
webhook_outcome interpret_payload(std::string_view event,
                                  std::string_view delivery_id,
                                  const nlohmann::json& body);

} // namespace conveyor::github
