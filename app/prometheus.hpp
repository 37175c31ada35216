#pragma once

#include <string>

#include "messages/metrics.hpp"

namespace conveyor {

/// Renders metric families in the Prometheus text exposition format 0.0.4
/// (HELP and TYPE lines, escaped label values, one sample per line).
std::string to_prometheus_text(const metric_families& families);

} // namespace conveyor
