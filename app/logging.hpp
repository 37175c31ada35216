#pragma once

#include <string>

namespace conveyor {

/// Sends every module's spdlog logger to stderr with a timestamped
/// `key=value` format at `level` ("trace" … "off"); answers an error text for
/// an unknown level, else an empty string.
std::string setup_logging(const std::string& level);

} // namespace conveyor
