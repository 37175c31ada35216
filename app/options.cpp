#include "app/options.hpp"

#include <algorithm>
#include <cctype>

#include <caf/sec.hpp>

namespace conveyor {

namespace {

caf::error usage(std::string what) {
  return caf::make_error(caf::sec::invalid_argument, std::move(what));
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

// Reads "<number><unit>" pairs; `unit_value` maps a unit to its multiplier or
// 0 if unknown.
template <class UnitValue>
caf::expected<int64_t> parse_quantity(const std::string& text,
                                      const std::string& what,
                                      std::string default_unit,
                                      UnitValue unit_value) {
  if (text.empty())
    return usage("empty " + what);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == start || i - start > 12)
      return usage("invalid " + what + " '" + text + "'");
    auto number = std::stoll(text.substr(start, i - start));
    start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    auto unit = i == start ? default_unit : text.substr(start, i - start);
    auto factor = unit_value(unit);
    if (factor == 0)
      return usage("invalid unit '" + unit + "' in " + what + " '" + text + "'");
    total += number * factor;
  }
  return total;
}

} // namespace

std::optional<std::string> parsed_args::get(const std::string& name) const {
  auto i = flags.find(name);
  if (i == flags.end())
    return std::nullopt;
  return i->second;
}

caf::expected<parsed_args> parse_args(const std::vector<std::string>& args,
                                      const std::vector<std::string>& valued,
                                      const std::vector<std::string>& switches) {
  parsed_args result;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      result.positional.push_back(arg);
      continue;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? std::string::npos
                                                      : eq - 2);
    if (contains(switches, name) && eq == std::string::npos) {
      result.flags[name] = "";
    } else if (contains(valued, name)) {
      if (eq != std::string::npos)
        result.flags[name] = arg.substr(eq + 1);
      else if (i + 1 < args.size())
        result.flags[name] = args[++i];
      else
        return usage("option --" + name + " needs a value");
    } else {
      return usage("unknown option --" + name);
    }
  }
  return result;
}

caf::expected<int64_t> parse_duration_ms(const std::string& text) {
  return parse_quantity(text, "duration", "s", [](const std::string& unit) {
    if (unit == "ms")
      return int64_t{1};
    if (unit == "s")
      return int64_t{1000};
    if (unit == "m" || unit == "min")
      return int64_t{60 * 1000};
    if (unit == "h")
      return int64_t{60 * 60 * 1000};
    return int64_t{0};
  });
}

caf::expected<int64_t> parse_size(const std::string& text) {
  return parse_quantity(text, "size", "B", [](const std::string& unit) {
    if (unit == "B")
      return int64_t{1};
    if (unit == "KiB" || unit == "K" || unit == "k")
      return int64_t{1024};
    if (unit == "KB" || unit == "kB")
      return int64_t{1000};
    if (unit == "MiB" || unit == "M")
      return int64_t{1024 * 1024};
    if (unit == "MB")
      return int64_t{1000 * 1000};
    if (unit == "GiB" || unit == "G")
      return int64_t{1024 * 1024 * 1024};
    return int64_t{0};
  });
}

caf::expected<int64_t> parse_count(const std::string& text) {
  auto ok = !text.empty() && text.size() < 7
            && std::all_of(text.begin(), text.end(), [](char c) {
                 return std::isdigit(static_cast<unsigned char>(c));
               });
  if (!ok || std::stoll(text) == 0)
    return usage("invalid count '" + text + "' (want a positive number)");
  return std::stoll(text);
}

} // namespace conveyor
