#include "adapters/postgres/json_codec.hpp"

#include <nlohmann/json.hpp>

#include "adapters/postgres/failure.hpp"

namespace conveyor::postgres {

namespace {

using nlohmann::json;

// The same test nlohmann's serializer applies (no overlong forms, no
// surrogates, nothing above U+10FFFF), plus no NUL: jsonb refuses \u0000.
bool is_utf8_without_nul(const std::string& s) {
  auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto is_cont = [&s, &byte](size_t i) {
    return i < s.size() && (byte(i) & 0xC0) == 0x80;
  };
  size_t i = 0;
  while (i < s.size()) {
    auto c = byte(i);
    if (c == 0) {
      return false;
    } else if (c < 0x80) {
      i += 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!is_cont(i + 1))
        return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!is_cont(i + 1) || !is_cont(i + 2))
        return false;
      if ((c == 0xE0 && byte(i + 1) < 0xA0)
          || (c == 0xED && byte(i + 1) >= 0xA0))
        return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!is_cont(i + 1) || !is_cont(i + 2) || !is_cont(i + 3))
        return false;
      if ((c == 0xF0 && byte(i + 1) < 0x90)
          || (c == 0xF4 && byte(i + 1) >= 0x90))
        return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

json encode_bytes(const std::string& s) {
  if (is_utf8_without_nul(s))
    return s;
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(s.size() * 2);
  for (unsigned char c : s) {
    hex += digits[c >> 4];
    hex += digits[c & 0x0F];
  }
  return json{{"hex", hex}};
}

std::string decode_bytes(const json& j) {
  if (j.is_string())
    return j.get<std::string>();
  auto hex = j.at("hex").get<std::string>();
  if (hex.size() % 2 != 0)
    throw failure("odd-length hex string");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    throw failure("invalid hex digit");
  };
  std::string result;
  result.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2)
    result += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  return result;
}

json encode_list(const std::vector<std::string>& xs) {
  auto result = json::array();
  for (const auto& x : xs)
    result.push_back(encode_bytes(x));
  return result;
}

std::vector<std::string> decode_list(const json& j) {
  std::vector<std::string> result;
  for (const auto& x : j)
    result.push_back(decode_bytes(x));
  return result;
}

// Called explicitly rather than found by nlohmann through ADL: ADL hooks
// would live in namespace conveyor, where the SQLite adapter may define its
// own, and a program linking both adapters would meet both.

json phases_to_json(const job_phases& x) {
  return json{{"before_install", encode_list(x.before_install)},
              {"install", encode_list(x.install)},
              {"before_script", encode_list(x.before_script)},
              {"script", encode_list(x.script)},
              {"after_success", encode_list(x.after_success)},
              {"after_failure", encode_list(x.after_failure)},
              {"after_script", encode_list(x.after_script)}};
}

void phases_from_json(const json& j, job_phases& x) {
  x.before_install = decode_list(j.at("before_install"));
  x.install = decode_list(j.at("install"));
  x.before_script = decode_list(j.at("before_script"));
  x.script = decode_list(j.at("script"));
  x.after_success = decode_list(j.at("after_success"));
  x.after_failure = decode_list(j.at("after_failure"));
  x.after_script = decode_list(j.at("after_script"));
}

json limits_to_json(const job_limits& x) {
  return json{{"timeout_ms", x.timeout_ms},
              {"no_output_timeout_ms", x.no_output_timeout_ms},
              {"max_log_bytes", x.max_log_bytes}};
}

void limits_from_json(const json& j, job_limits& x) {
  x.timeout_ms = j.at("timeout_ms").get<int64_t>();
  x.no_output_timeout_ms = j.at("no_output_timeout_ms").get<int64_t>();
  x.max_log_bytes = j.at("max_log_bytes").get<int64_t>();
}

json message_to_json(const config_message& x) {
  return json{{"level", encode_bytes(x.level)},
              {"key", encode_bytes(x.key)},
              {"code", encode_bytes(x.code)},
              {"message", encode_bytes(x.message)},
              {"line", x.line},
              {"column", x.column}};
}

void message_from_json(const json& j, config_message& x) {
  x.level = decode_bytes(j.at("level"));
  x.key = decode_bytes(j.at("key"));
  x.code = decode_bytes(j.at("code"));
  x.message = decode_bytes(j.at("message"));
  x.line = j.at("line").get<int32_t>();
  x.column = j.at("column").get<int32_t>();
}

json parse(const std::string& text) {
  auto result = json::parse(text, nullptr, false);
  if (result.is_discarded())
    throw failure("malformed JSON column");
  return result;
}

// Runs `fun`, turning nlohmann's exceptions into `failure` about `what`.
template <class F>
auto decoding(const char* what, F fun) -> decltype(fun()) {
  try {
    return fun();
  } catch (const json::exception& e) {
    throw failure(std::string{"malformed "} + what + ": " + e.what());
  }
}

} // namespace

bool is_text(const std::string& x) {
  return is_utf8_without_nul(x);
}

std::string encode_string(const std::string& x) {
  return encode_bytes(x).dump();
}

std::string decode_string(const std::string& text) {
  auto j = parse(text);
  return decoding("string column", [&j] { return decode_bytes(j); });
}

std::string encode_request(const build_request& x) {
  json result{{"request_id", encode_bytes(x.request_id)},
              {"source", encode_bytes(x.source)},
              {"repo", encode_bytes(x.repo)},
              {"slug", encode_bytes(x.slug)},
              {"ref", encode_bytes(x.ref)},
              {"sha", encode_bytes(x.sha)},
              {"branch", encode_bytes(x.branch)},
              {"tag", encode_bytes(x.tag)},
              {"event", encode_bytes(x.event)},
              {"commit_message", encode_bytes(x.commit_message)},
              {"sender", encode_bytes(x.sender)},
              {"pull_request", x.pull_request},
              {"head_repo", encode_bytes(x.head_repo)},
              {"head_branch", encode_bytes(x.head_branch)},
              {"fork", x.fork},
              {"delivery_id", encode_bytes(x.delivery_id)}};
  return result.dump();
}

build_request decode_request(const std::string& text) {
  auto j = parse(text);
  return decoding("build request", [&j] {
    build_request x;
    x.request_id = decode_bytes(j.at("request_id"));
    x.source = decode_bytes(j.at("source"));
    x.repo = decode_bytes(j.at("repo"));
    x.slug = decode_bytes(j.at("slug"));
    x.ref = decode_bytes(j.at("ref"));
    x.sha = decode_bytes(j.at("sha"));
    x.branch = decode_bytes(j.at("branch"));
    x.tag = decode_bytes(j.at("tag"));
    x.event = decode_bytes(j.at("event"));
    x.commit_message = decode_bytes(j.at("commit_message"));
    x.sender = decode_bytes(j.at("sender"));
    // Fields added later are optional, so that older rows still decode.
    x.pull_request = j.value("pull_request", 0);
    x.head_repo = decode_bytes(j.value("head_repo", json("")));
    x.head_branch = decode_bytes(j.value("head_branch", json("")));
    x.fork = j.value("fork", false);
    x.delivery_id = decode_bytes(j.value("delivery_id", json("")));
    return x;
  });
}

std::string encode_spec(const job_spec& x) {
  auto env = json::array();
  for (const auto& var : x.env)
    env.push_back(json{{"name", encode_bytes(var.name)},
                       {"value", encode_bytes(var.value)}});
  json result{{"name", encode_bytes(x.name)},
              {"request_id", encode_bytes(x.request_id)},
              {"repo", encode_bytes(x.repo)},
              {"slug", encode_bytes(x.slug)},
              {"sha", encode_bytes(x.sha)},
              {"branch", encode_bytes(x.branch)},
              {"tag", encode_bytes(x.tag)},
              {"event", encode_bytes(x.event)},
              {"commit_message", encode_bytes(x.commit_message)},
              {"clone", x.clone},
              {"clone_depth", x.clone_depth},
              {"env", std::move(env)},
              {"phases", phases_to_json(x.phases)},
              {"limits", limits_to_json(x.limits)},
              {"stage", encode_bytes(x.stage)},
              {"stage_index", x.stage_index},
              {"pull_request", x.pull_request},
              {"pull_request_branch", encode_bytes(x.pull_request_branch)},
              {"pull_request_slug", encode_bytes(x.pull_request_slug)}};
  return result.dump();
}

void decode_spec(const std::string& text, job_spec& x) {
  auto j = parse(text);
  decoding("job spec", [&j, &x] {
    x.name = decode_bytes(j.value("name", json("")));
    x.request_id = decode_bytes(j.at("request_id"));
    x.repo = decode_bytes(j.at("repo"));
    x.slug = decode_bytes(j.at("slug"));
    x.sha = decode_bytes(j.at("sha"));
    x.branch = decode_bytes(j.at("branch"));
    x.tag = decode_bytes(j.at("tag"));
    x.event = decode_bytes(j.at("event"));
    x.commit_message = decode_bytes(j.at("commit_message"));
    x.clone = j.value("clone", true);
    x.clone_depth = j.value("clone_depth", 0);
    x.env.clear();
    for (const auto& var : j.at("env"))
      x.env.push_back(
        env_var{decode_bytes(var.at("name")), decode_bytes(var.at("value"))});
    phases_from_json(j.at("phases"), x.phases);
    limits_from_json(j.at("limits"), x.limits);
    // Fields added later are optional, so that older rows still decode.
    x.stage = decode_bytes(j.value("stage", json("")));
    x.stage_index = j.value("stage_index", 0);
    x.pull_request = j.value("pull_request", 0);
    x.pull_request_branch = decode_bytes(j.value("pull_request_branch", json("")));
    x.pull_request_slug = decode_bytes(j.value("pull_request_slug", json("")));
  });
}

std::string encode_messages(const std::vector<config_message>& xs) {
  auto result = json::array();
  for (const auto& x : xs)
    result.push_back(message_to_json(x));
  return result.dump();
}

std::vector<config_message> decode_messages(const std::string& text) {
  auto j = parse(text);
  return decoding("config messages", [&j] {
    std::vector<config_message> result;
    for (const auto& x : j) {
      config_message msg;
      message_from_json(x, msg);
      result.push_back(std::move(msg));
    }
    return result;
  });
}

} // namespace conveyor::postgres
