#include "app/prometheus.hpp"

#include <cmath>
#include <cstdio>

namespace conveyor {

namespace {

std::string escape(const std::string& text, bool quotes) {
  std::string result;
  for (auto c : text) {
    if (c == '\\')
      result += "\\\\";
    else if (c == '\n')
      result += "\\n";
    else if (c == '"' && quotes)
      result += "\\\"";
    else
      result += c;
  }
  return result;
}

std::string number(double x) {
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  if (std::isnan(x))
    return "NaN";
  if (x == std::floor(x) && std::fabs(x) < 1e15)
    return std::to_string(static_cast<long long>(x));
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", x);
  return buf;
}

} // namespace

std::string to_prometheus_text(const metric_families& families) {
  std::string out;
  for (auto& family : families) {
    out += "# HELP " + family.name + " " + escape(family.help, false) + "\n";
    out += "# TYPE " + family.name + " " + family.type + "\n";
    for (auto& sample : family.samples) {
      out += family.name + sample.suffix;
      if (!sample.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0)
            out += ',';
          out += sample.labels[i].name + "=\""
                 + escape(sample.labels[i].value, true) + '"';
        }
        out += '}';
      }
      out += ' ' + number(sample.value) + '\n';
    }
  }
  return out;
}

} // namespace conveyor
