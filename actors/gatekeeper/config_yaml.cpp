#include "actors/gatekeeper/config_yaml.hpp"

#include <exception>
#include <map>
#include <new>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

namespace conveyor {

namespace {

// At most this many documents are looked at (all but the first only for
// syntax errors).
constexpr int max_documents = 1000;

config_mark mark_of(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0 || m.column < 0)
    return {};
  return {m.line + 1, m.column + 1};
}

// Thrown by the builder to stop reading; becomes one error message.
struct load_stop {
  std::string code;
  std::string message;
  config_mark at;
};

std::string mib(std::size_t bytes) {
  return std::to_string(bytes / (1024 * 1024)) + " MB";
}

// Builds config nodes from the parser's events. Only the first document is
// kept; the others are parsed for syntax errors only.
class builder : public YAML::EventHandler {
public:
  explicit builder(std::vector<config_message>& messages)
    : messages_(messages) {
    // nop
  }

  config_node root;
  std::vector<YAML::Mark> document_starts;

  void OnDocumentStart(const YAML::Mark& at) override {
    document_starts.push_back(at);
    ignoring_ = document_starts.size() > 1;
  }

  void OnDocumentEnd() override {
    // nop
  }

  void OnNull(const YAML::Mark& at, YAML::anchor_t anchor) override {
    if (ignoring_)
      return;
    charge(1, 0, at);
    config_node node;
    node.mark(mark_of(at));
    add(std::move(node), anchor, 1, 0, at, false);
  }

  void OnAlias(const YAML::Mark& at, YAML::anchor_t anchor) override {
    if (ignoring_)
      return;
    auto i = anchors_.find(anchor);
    if (i == anchors_.end() || !i->second.complete) {
      error("", "recursive_alias",
            "this alias refers to the value it is part of", mark_of(at));
      add(config_node{}, YAML::NullAnchor, 1, 0, at, false);
      return;
    }
    const auto& x = i->second;
    charge(x.nodes, x.bytes, at);
    auto node = x.node;
    add(std::move(node), YAML::NullAnchor, x.nodes, x.bytes, at, x.plain);
  }

  void OnScalar(const YAML::Mark& at, const std::string& tag,
                YAML::anchor_t anchor, const std::string& value) override {
    if (ignoring_)
      return;
    charge(1, value.size(), at);
    bool plain = tag == "?";
    config_node node;
    if (plain && (value == "true" || value == "True" || value == "TRUE"))
      node = config_node::boolean(true, mark_of(at));
    else if (plain
             && (value == "false" || value == "False" || value == "FALSE"))
      node = config_node::boolean(false, mark_of(at));
    else
      node = config_node::string(value, mark_of(at));
    add(std::move(node), anchor, 1, value.size(), at, plain);
  }

  void OnSequenceStart(const YAML::Mark& at, const std::string&,
                       YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    if (ignoring_)
      return;
    open(false, at, anchor);
  }

  void OnSequenceEnd() override {
    if (ignoring_)
      return;
    close();
  }

  void OnMapStart(const YAML::Mark& at, const std::string&,
                  YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    if (ignoring_)
      return;
    open(true, at, anchor);
  }

  void OnMapEnd() override {
    if (ignoring_)
      return;
    close();
  }

private:
  struct anchored {
    config_node node;
    std::size_t nodes = 0;
    std::size_t bytes = 0;
    bool plain = false;
    bool complete = false;
  };

  struct frame {
    bool is_map = false;
    YAML::Mark at;
    YAML::anchor_t anchor = YAML::NullAnchor;
    std::vector<config_node> items;
    std::vector<config_entry> entries;
    std::unordered_map<std::string, std::size_t> index;
    bool expecting_value = false;
    bool skip_value = false;
    bool merge_value = false;
    std::string key;
    config_mark key_mark;
    std::vector<config_node> merges;
    std::size_t nodes = 1; // of the expanded subtree, for anchors
    std::size_t bytes = 0;
  };

  void error(const std::string& key, const char* code, std::string text,
             config_mark at) {
    messages_.push_back(
      {"error", key, code, std::move(text), at.line, at.column});
  }

  std::string path() const {
    std::string result;
    for (const auto& f : stack_) {
      if (!f.is_map || !f.expecting_value)
        continue;
      if (!result.empty())
        result += '.';
      result += f.key;
    }
    return result;
  }

  // Counts the values and bytes the config holds once aliases are expanded.
  void charge(std::size_t nodes, std::size_t bytes, const YAML::Mark& at) {
    total_nodes_ += nodes;
    total_bytes_ += bytes;
    if (total_nodes_ > max_config_nodes)
      throw load_stop{"too_large",
                      "the config holds more than "
                        + std::to_string(max_config_nodes)
                        + " values once its aliases are expanded",
                      mark_of(at)};
    if (total_bytes_ > max_config_expanded_bytes)
      throw load_stop{"too_large",
                      "the config holds more than "
                        + mib(max_config_expanded_bytes)
                        + " of text once its aliases are expanded",
                      mark_of(at)};
  }

  void open(bool is_map, const YAML::Mark& at, YAML::anchor_t anchor) {
    if (stack_.size() >= max_config_depth)
      throw load_stop{"too_deep",
                      "the config nests lists and maps more than "
                        + std::to_string(max_config_depth) + " levels deep",
                      mark_of(at)};
    charge(1, 0, at);
    if (anchor != YAML::NullAnchor)
      anchors_[anchor] = anchored{};
    frame f;
    f.is_map = is_map;
    f.at = at;
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void close() {
    auto f = std::move(stack_.back());
    stack_.pop_back();
    config_node node;
    if (f.is_map) {
      apply_merges(f);
      node = config_node::map(std::move(f.entries), mark_of(f.at));
    } else {
      node = config_node::list(std::move(f.items), mark_of(f.at));
    }
    add(std::move(node), f.anchor, f.nodes, f.bytes, f.at, false);
  }

  // Adds the entries of the merged maps that the map does not set itself;
  // of two merged maps with the same key, the first one listed wins.
  void apply_merges(frame& f) {
    auto merge_map = [&f](const config_node& m) {
      for (const auto& entry : m.entries()) {
        if (f.index.count(entry.key) > 0)
          continue;
        f.index.emplace(entry.key, f.entries.size());
        f.entries.push_back(entry);
      }
    };
    for (const auto& m : f.merges) {
      if (m.is_map()) {
        merge_map(m);
      } else if (m.is_list()) {
        for (const auto& item : m.items()) {
          if (item.is_map())
            merge_map(item);
          else
            error(path(), "invalid_type",
                  "a merge key ('<<') takes a map or a list of maps",
                  item.mark());
        }
      } else {
        error(path(), "invalid_type",
              "a merge key ('<<') takes a map or a list of maps", m.mark());
      }
    }
  }

  void add(config_node node, YAML::anchor_t anchor, std::size_t nodes,
           std::size_t bytes, const YAML::Mark& at, bool plain) {
    if (anchor != YAML::NullAnchor)
      anchors_[anchor] = anchored{node, nodes, bytes, plain, true};
    if (stack_.empty()) {
      root = std::move(node);
      return;
    }
    auto& f = stack_.back();
    f.nodes += nodes;
    f.bytes += bytes;
    if (!f.is_map) {
      f.items.push_back(std::move(node));
      return;
    }
    if (!f.expecting_value) {
      f.expecting_value = true;
      f.key_mark = mark_of(at);
      f.merge_value = false;
      f.skip_value = false;
      if (node.is_scalar()) {
        f.key = node.scalar_text();
        f.merge_value = plain && f.key == "<<";
      } else {
        f.key.clear();
        f.skip_value = true;
        error(path(), "invalid_type",
              "a key must be a string, not a list, a map or null",
              mark_of(at));
      }
      return;
    }
    f.expecting_value = false;
    if (f.skip_value)
      return;
    if (f.merge_value) {
      f.merges.push_back(std::move(node));
      return;
    }
    auto i = f.index.find(f.key);
    if (i != f.index.end()) {
      auto full = path();
      full += full.empty() ? "" : ".";
      full += f.key;
      messages_.push_back({"warn", full, "duplicate_key",
                           "'" + full
                             + "' is given more than once: the last one is "
                               "used",
                           f.key_mark.line, f.key_mark.column});
      f.entries[i->second].value = std::move(node);
      return;
    }
    f.index.emplace(f.key, f.entries.size());
    f.entries.push_back({f.key, std::move(node), f.key_mark});
  }

  std::vector<config_message>& messages_;
  std::vector<frame> stack_;
  std::map<YAML::anchor_t, anchored> anchors_;
  std::size_t total_nodes_ = 0;
  std::size_t total_bytes_ = 0;
  bool ignoring_ = false;
};

void parse(const std::string& input, builder& b) {
  std::istringstream in{input};
  YAML::Parser parser{in};
  // yaml-cpp 0.7 never finishes on a stray ',' at document level: it yields
  // the same empty document forever, at the same position. Every other
  // document consumes input, so this loop ends.
  while (parser.HandleNextDocument(b)) {
    auto& starts = b.document_starts;
    auto n = starts.size();
    if (n >= 2 && starts[n - 1].pos == starts[n - 2].pos) {
      auto at = starts[n - 1];
      auto pos = static_cast<std::size_t>(at.pos);
      auto what = pos < input.size() ? "unexpected '" + input.substr(pos, 1)
                                         + "'"
                                     : std::string{"unexpected end"};
      throw YAML::ParserException(at, what);
    }
    if (n > static_cast<std::size_t>(max_documents))
      throw load_stop{"too_large",
                      "the file holds more than "
                        + std::to_string(max_documents) + " YAML documents",
                      mark_of(starts.back())};
  }
}

} // namespace

yaml_load_result load_config_yaml(std::string_view text) {
  yaml_load_result result;
  auto fail = [&result](const char* code, std::string text, config_mark at) {
    result.root = config_node{};
    result.messages.clear();
    result.messages.push_back(
      {"error", "", code, std::move(text), at.line, at.column});
  };
  if (text.size() > max_config_text_bytes) {
    fail("too_large",
         "the config file has " + std::to_string(text.size())
           + " bytes; at most " + mib(max_config_text_bytes) + " are read",
         {});
    return result;
  }
  builder b{result.messages};
  try {
    parse(std::string{text}, b);
    result.root = std::move(b.root);
    if (b.document_starts.size() > 1) {
      auto at = mark_of(b.document_starts[1]);
      result.messages.push_back(
        {"warn", "", "multiple_documents",
         "the file holds several YAML documents: only the first one is read",
         at.line, at.column});
    }
  } catch (const load_stop& stop) {
    fail(stop.code.c_str(), stop.message, stop.at);
  } catch (const YAML::DeepRecursion& e) {
    fail("too_deep", "the config nests lists and maps too deeply",
         mark_of(e.mark));
  } catch (const YAML::Exception& e) {
    fail("syntax_error", "invalid YAML: " + e.msg, mark_of(e.mark));
  } catch (const std::bad_alloc&) {
    fail("too_large", "the config could not be read: out of memory", {});
  } catch (const std::exception& e) {
    fail("internal_error",
         std::string{"the config could not be read: "} + e.what(), {});
  }
  return result;
}

} // namespace conveyor
