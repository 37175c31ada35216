#pragma once

#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// One label of a metric sample, e.g. {"state", "passed"}.
struct metric_label {
  std::string name;
  std::string value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metric_label& x) {
  return f(caf::meta::type_name("conveyor::metric_label"), x.name, x.value);
}

/// One value of a metric. `suffix` is empty, or "_bucket", "_sum", "_count"
/// for the series of a histogram (with an "le" label on buckets).
struct metric_sample {
  std::string suffix;
  std::vector<metric_label> labels;
  double value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metric_sample& x) {
  return f(caf::meta::type_name("conveyor::metric_sample"), x.suffix,
           x.labels, x.value);
}

/// A metric family in Prometheus's model: name (e.g.
/// "conveyor_jobs_finished_total"), help text, type ("counter", "gauge" or
/// "histogram") and samples. Every module answers its own families when asked
/// `(fetch_atom, metrics_atom)`; the admin endpoint renders them.
struct metric_family {
  std::string name;
  std::string help;
  std::string type;
  std::vector<metric_sample> samples;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metric_family& x) {
  return f(caf::meta::type_name("conveyor::metric_family"), x.name, x.help,
           x.type, x.samples);
}

/// A module's metrics.
using metric_families = std::vector<metric_family>;

} // namespace conveyor
