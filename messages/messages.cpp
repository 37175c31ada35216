#include <array>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

constexpr std::array<const char*, 8> job_state_names{
  "created", "queued", "received", "started",
  "passed",  "failed", "errored",  "canceled"};

constexpr std::array<const char*, 6> build_state_names{
  "created", "started", "passed", "failed", "errored", "canceled"};

template <class Enum, size_t N>
bool parse_enum(const std::array<const char*, N>& names,
                const std::string& name, Enum& out) {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i]) {
      out = static_cast<Enum>(i);
      return true;
    }
  return false;
}

} // namespace

// -- errors -------------------------------------------------------------------

std::string to_string(errc x) {
  switch (x) {
    case errc::invalid_config: return "invalid_config";
    case errc::no_config: return "no_config";
    case errc::unknown_repository: return "unknown_repository";
    case errc::unknown_ref: return "unknown_ref";
    case errc::unknown_build: return "unknown_build";
    case errc::unknown_job: return "unknown_job";
    case errc::store_failure: return "store_failure";
    case errc::no_worker: return "no_worker";
    case errc::conflict: return "conflict";
    case errc::unavailable: return "unavailable";
    case errc::unknown_child: return "unknown_child";
  }
  return "unknown_error";
}

std::string describe(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  if (err.category() == errc_category)
    return to_string(static_cast<errc>(err.code()));
  return caf::to_string(err);
}

// -- jobs ---------------------------------------------------------------------

std::string to_string(job_state x) {
  return job_state_names.at(static_cast<size_t>(x));
}

bool from_string(const std::string& name, job_state& out) {
  return parse_enum(job_state_names, name, out);
}

bool is_terminal(job_state x) {
  return x >= job_state::passed;
}

bool is_allowed(job_state from, job_state to) {
  using s = job_state;
  if (is_terminal(from))
    return false;
  if (to == s::errored || to == s::canceled)
    return true;
  // A worker's reports may overtake one another when one is repeated (its
  // first copy met a restarting scheduler): a run may skip ahead, never back.
  auto ran = to == s::passed || to == s::failed;
  switch (from) {
    case s::created: return to == s::queued;
    case s::queued: return to == s::received || to == s::started || ran;
    case s::received: return to == s::started || to == s::queued || ran;
    case s::started: return ran;
    default: return false;
  }
}

std::string job_number(const job_spec& x) {
  return std::to_string(x.build_number) + "." + std::to_string(x.index);
}

// -- builds -------------------------------------------------------------------

std::string to_string(build_state x) {
  return build_state_names.at(static_cast<size_t>(x));
}

bool from_string(const std::string& name, build_state& out) {
  return parse_enum(build_state_names, name, out);
}

bool is_terminal(build_state x) {
  return x >= build_state::passed;
}

std::string to_string(const config_message& x) {
  std::string result = x.level;
  result += ": ";
  if (x.line > 0) {
    result += "line " + std::to_string(x.line);
    if (x.column > 0)
      result += ", column " + std::to_string(x.column);
    result += ": ";
  }
  result += x.message;
  if (!x.code.empty())
    result += " [" + x.code + "]";
  return result;
}

// -- registration -------------------------------------------------------------

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::conveyor>();
  cfg.add_error_category(errc_category, [](uint8_t code, caf::atom_value,
                                           const caf::message& ctx) {
    auto result = "conveyor: " + to_string(static_cast<errc>(code));
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      result += ": " + ctx.get_as<std::string>(0);
    return result;
  });
}

std::string describe(const std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

caf::error exit_reason_of(const std::exception_ptr& eptr) {
  return caf::make_error(caf::sec::runtime_error, describe(eptr));
}

} // namespace conveyor
