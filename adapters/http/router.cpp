#include "adapters/http/router.hpp"

#include <set>
#include <stdexcept>
#include <vector>

namespace conveyor::http {

namespace {

// Lower ranks are more specific.
enum class kind { literal = 0, param = 1, rest = 2 };

struct segment {
  kind type;
  std::string text; // the literal, or the parameter's name
};

struct route {
  std::string method;
  std::string pattern;
  std::vector<segment> segments;
  router::route_handler fn;
};

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> result;
  if (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    result.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      return result;
    path.remove_prefix(slash + 1);
  }
}

std::vector<segment> parse_pattern(const std::string& pattern) {
  auto fail = [&pattern](const char* why) {
    return std::invalid_argument("http::router: bad pattern '" + pattern
                                 + "': " + why);
  };
  if (pattern.empty() || pattern.front() != '/')
    throw fail("it must start with '/'");
  std::vector<segment> result;
  std::set<std::string> names;
  auto parts = split_path(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    auto part = parts[i];
    if (part.empty() || part.front() != '{') {
      if (part.find_first_of("{}") != std::string_view::npos)
        throw fail("braces only around a whole segment");
      result.push_back({kind::literal, std::string{part}});
      continue;
    }
    if (part.back() != '}')
      throw fail("unclosed '{'");
    auto name = part.substr(1, part.size() - 2);
    auto type = kind::param;
    if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
      if (i + 1 != parts.size())
        throw fail("{name...} must be the last segment");
      name.remove_suffix(3);
      type = kind::rest;
    }
    if (name.empty() || name.find_first_of("{}/.") != std::string_view::npos)
      throw fail("bad parameter name");
    if (!names.emplace(name).second)
      throw fail("repeated parameter name");
    result.push_back({type, std::string{name}});
  }
  return result;
}

bool match(const route& r, const std::vector<std::string_view>& parts,
           route_params& params) {
  auto& segs = r.segments;
  for (size_t i = 0; i < segs.size(); ++i) {
    auto& seg = segs[i];
    if (seg.type == kind::rest) {
      if (i >= parts.size())
        return false;
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (j > i)
          rest += '/';
        rest += percent_decode(parts[j]);
      }
      if (rest.empty())
        return false;
      params[seg.text] = std::move(rest);
      return true;
    }
    if (i >= parts.size())
      return false;
    auto decoded = percent_decode(parts[i]);
    if (seg.type == kind::literal) {
      if (decoded != seg.text)
        return false;
    } else {
      if (decoded.empty())
        return false;
      params[seg.text] = std::move(decoded);
    }
  }
  return segs.size() == parts.size();
}

// Compares specificity: literal segments first, then exact method over the
// implicit HEAD-by-GET.
bool more_specific(const route& a, bool a_exact, const route& b, bool b_exact) {
  auto n = std::min(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < n; ++i) {
    auto x = static_cast<int>(a.segments[i].type);
    auto y = static_cast<int>(b.segments[i].type);
    if (x != y)
      return x < y;
  }
  if (a.segments.size() != b.segments.size())
    return a.segments.size() > b.segments.size();
  return a_exact && !b_exact;
}

} // namespace

struct router::table {
  std::vector<route> routes;
  match_observer observer;
};

router::router() : table_(std::make_shared<table>()) {
  // nop
}

void router::add(std::string method, std::string pattern, route_handler fn) {
  if (!fn)
    throw std::invalid_argument("http::router: empty handler for " + method
                                + " " + pattern);
  if (method.empty())
    throw std::invalid_argument("http::router: empty method for " + pattern);
  auto segments = parse_pattern(pattern);
  table_->routes.push_back(
    {std::move(method), std::move(pattern), std::move(segments), std::move(fn)});
}

void router::on_match(match_observer fn) {
  table_->observer = std::move(fn);
}

void router::operator()(request& req, responder res) const {
  auto parts = split_path(req.path);
  const route* best = nullptr;
  bool best_exact = false;
  route_params best_params;
  std::set<std::string> allowed;
  for (auto& r : table_->routes) {
    route_params params;
    if (!match(r, parts, params))
      continue;
    allowed.insert(r.method);
    if (r.method == "GET")
      allowed.insert("HEAD");
    bool exact = r.method == req.method;
    if (!exact && !(req.method == "HEAD" && r.method == "GET"))
      continue;
    if (best == nullptr || more_specific(r, exact, *best, best_exact)) {
      best = &r;
      best_exact = exact;
      best_params = std::move(params);
    }
  }
  if (best != nullptr) {
    req.route = best->pattern;
    req.params = std::move(best_params);
    if (table_->observer)
      table_->observer(req, req.route);
    best->fn(req, req.params, std::move(res));
    return;
  }
  if (allowed.empty()) {
    res.send(json_error(404, "no route for " + req.path, req.request_id));
    return;
  }
  std::string allow;
  for (auto& m : allowed) {
    if (!allow.empty())
      allow += ", ";
    allow += m;
  }
  auto answer = json_error(405, "method " + req.method + " not allowed on "
                                  + req.path,
                           req.request_id);
  answer.headers.emplace_back("Allow", allow);
  res.send(std::move(answer));
}

} // namespace conveyor::http
