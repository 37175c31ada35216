#include "actors/gatekeeper/mirror.hpp"

#include <system_error>
#include <utility>
#include <vector>

#include "actors/gatekeeper/git_handles.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

namespace fs = std::filesystem;

// -- URL parsing --------------------------------------------------------------

constexpr size_t max_readable_name = 64;
constexpr size_t hash_digits = 16;

const char* const heads_refspec = "+refs/heads/*:refs/heads/*";
const char* const tags_refspec = "+refs/tags/*:refs/tags/*";

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_word_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
}

// Length of the scheme of `x` if it starts with `scheme://`, else 0.
size_t scheme_length(std::string_view x) {
  auto end = x.find("://");
  if (end == std::string_view::npos || end == 0 || !is_alpha(x[0]))
    return 0;
  for (size_t i = 1; i < end; ++i) {
    auto c = x[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '.' && c != '-')
      return 0;
  }
  return end;
}

// The host and the path of a URL; user info, port separators and the rest of
// the authority stay in `host`, query and fragment are cut from `path`.
struct url_parts {
  std::string_view host;
  std::string_view path;
};

url_parts split_url(std::string_view url) {
  url_parts result;
  std::string_view authority;
  if (auto n = scheme_length(url); n > 0) {
    auto rest = url.substr(n + 3);
    auto end = rest.find_first_of("/?#");
    authority = rest.substr(0, end);
    result.path = end == std::string_view::npos ? std::string_view{}
                                                : rest.substr(end);
  } else {
    auto colon = url.find(':');
    authority = url.substr(0, colon);
    result.path = colon == std::string_view::npos ? std::string_view{}
                                                  : url.substr(colon + 1);
  }
  // User info may hold a password or a token: it never becomes a name.
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  result.host = authority;
  if (auto end = result.path.find_first_of("?#");
      end != std::string_view::npos)
    result.path = result.path.substr(0, end);
  return result;
}

// Splits `text` at every character for which `is_separator` holds, dropping
// empty words and the words `.` and `..`.
template <class Predicate>
std::vector<std::string_view> words(std::string_view text,
                                    Predicate is_separator) {
  std::vector<std::string_view> result;
  size_t begin = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && !is_separator(text[i]))
      continue;
    auto word = text.substr(begin, i - begin);
    if (!word.empty() && word.find_first_not_of('.') != std::string_view::npos)
      result.push_back(word);
    begin = i + 1;
  }
  return result;
}

std::string strip_git_suffix(std::string_view name) {
  constexpr std::string_view suffix = ".git";
  if (name.size() > suffix.size()
      && name.substr(name.size() - suffix.size()) == suffix)
    name.remove_suffix(suffix.size());
  return std::string{name};
}

std::string hex_hash(std::string_view text) {
  ensure_libgit2();
  git_oid oid;
  char hex[GIT_OID_HEXSZ + 1] = {};
  if (git_odb_hash(&oid, text.data(), text.size(), GIT_OBJECT_BLOB) != 0)
    return std::string(hash_digits, '0'); // only on out of memory
  git_oid_tostr(hex, sizeof(hex), &oid);
  return std::string{hex, hash_digits};
}

// -- mirror plumbing ----------------------------------------------------------

caf::error fetch_failure(const std::string& url, const std::string& what) {
  return make_error(errc::unknown_repository,
                    "cannot fetch '" + url + "' into its mirror: " + what);
}

caf::error mirror_failure(const std::string& url, const fs::path& dir,
                          const std::string& what) {
  return make_error(errc::unknown_repository,
                    "cannot write the mirror of '" + url + "' at '"
                      + dir.string() + "': " + what);
}

// An in-memory remote for `url` that skips `url.*.insteadOf` rules: libgit2
// 1.5 leaks a PCRE2 match block (over 100 KB, measured with valgrind) each
// time it applies them, which looking up or creating a named remote always
// does. It also keeps the user's git config out of what the gatekeeper
// fetches.
caf::expected<git_remote_ptr> remote_for(git_repository* repo,
                                         const std::string& url) {
  git_remote_create_options opts = GIT_REMOTE_CREATE_OPTIONS_INIT;
  opts.repository = repo;
  opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF
               | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  git_remote* raw = nullptr;
  if (git_remote_create_with_opts(&raw, url.c_str(), &opts) != 0)
    return fetch_failure(url, last_git_error());
  return git_remote_ptr{raw};
}

// The provider of the innermost scoped_fetch_tokens of this thread.
thread_local const fetch_token_provider* current_tokens = nullptr;

// What the credentials callback of one fetch needs.
struct fetch_auth {
  const std::string* url; ///< as given, not as redirected
  bool asked = false;
  std::string token;
};

// Answers a server's request for credentials once with the token of the
// URL; a second request means it refused the token, and the fetch fails.
// The URL asking (after redirects) decides, so a redirect to another host
// gets no token.
int credentials_for(git_credential** out, const char* asking, const char*,
                    unsigned int allowed_types, void* payload) {
  auto* auth = static_cast<fetch_auth*>(payload);
  if (auth->asked || current_tokens == nullptr || !*current_tokens
      || (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) == 0)
    return GIT_PASSTHROUGH;
  auth->asked = true;
  auth->token = (*current_tokens)(asking != nullptr ? std::string{asking}
                                                    : *auth->url);
  if (auth->token.empty())
    return GIT_PASSTHROUGH;
  return git_credential_userpass_plaintext_new(out, "x-access-token",
                                               auth->token.c_str());
}

caf::error fetch(git_repository* repo, const std::string& url) {
  auto remote = remote_for(repo, url);
  if (!remote)
    return std::move(remote.error());
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  fetch_auth auth{&url, false, {}};
  opts.callbacks.credentials = credentials_for;
  opts.callbacks.payload = &auth;
  opts.prune = GIT_FETCH_PRUNE;
  opts.update_fetchhead = 0;
  // The tags refspec fetches every tag; automatic tag following would only
  // add the ones it already has.
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  const char* specs[] = {heads_refspec, tags_refspec};
  git_strarray refspecs{const_cast<char**>(specs), 2};
  if (git_remote_fetch(remote->get(), &refspecs, &opts, "conveyor: fetch")
      != 0)
    return fetch_failure(url, last_git_error());
  // A request for HEAD builds the remote's default branch. A remote without
  // one (empty, or a detached HEAD) leaves the mirror's HEAD as it was.
  git_buf_guard head;
  if (git_remote_default_branch(&head.buf, remote->get()) == 0
      && head.buf.ptr != nullptr
      && git_repository_set_head(repo, head.buf.ptr) != 0)
    return fetch_failure(url, "cannot set HEAD to " + std::string{head.buf.ptr}
                                + ": " + last_git_error());
  return caf::none;
}

// Records where the mirror comes from, for people who look at it; the
// gatekeeper itself always fetches from the URL it is given.
bool record_origin(git_repository* repo, const std::string& url) {
  git_config* raw = nullptr;
  if (git_repository_config(&raw, repo) != 0)
    return false;
  git_config_ptr cfg{raw};
  return git_config_set_string(cfg.get(), "remote.origin.url", url.c_str())
         == 0;
}

// Opens an existing mirror; nullptr if there is none or it does not open.
git_repository_ptr open_mirror(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return nullptr;
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, dir.c_str(),
                              GIT_REPOSITORY_OPEN_NO_SEARCH
                                | GIT_REPOSITORY_OPEN_BARE,
                              nullptr)
      != 0)
    return nullptr;
  return git_repository_ptr{raw};
}

// Creates the mirror in a scratch directory and moves it into place once its
// first fetch succeeded, so that `dir` only ever holds a usable mirror.
caf::error create_mirror(const fs::path& dir, const std::string& url) {
  auto partial = dir;
  partial += ".partial";
  std::error_code ec;
  fs::remove_all(partial, ec); // left over from a crash
  if (ec)
    return mirror_failure(url, partial, ec.message());
  auto cleanup = [&partial] {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
  };
  {
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH
                 | GIT_REPOSITORY_INIT_NO_REINIT;
    git_repository* raw = nullptr;
    if (git_repository_init_ext(&raw, partial.c_str(), &opts) != 0) {
      auto err = mirror_failure(url, partial, last_git_error());
      cleanup();
      return err;
    }
    git_repository_ptr repo{raw};
    if (!record_origin(repo.get(), url)) {
      auto err = mirror_failure(url, partial, last_git_error());
      repo.reset();
      cleanup();
      return err;
    }
    if (auto err = fetch(repo.get(), url)) {
      repo.reset();
      cleanup();
      return err;
    }
  }
  fs::remove_all(dir, ec); // a mirror that no longer opened
  if (!ec)
    fs::rename(partial, dir, ec);
  if (ec) {
    cleanup();
    return mirror_failure(url, dir, ec.message());
  }
  return caf::none;
}

} // namespace

// -- URLs ---------------------------------------------------------------------

bool is_repository_url(std::string_view repo) {
  if (scheme_length(repo) > 0)
    return true;
  // git's rule: `host:path` is scp-like unless a slash comes before the colon.
  auto colon = repo.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  auto slash = repo.find('/');
  if (slash != std::string_view::npos && slash < colon)
    return false;
  auto host = repo.substr(0, colon);
  if (auto at = host.rfind('@'); at != std::string_view::npos)
    host.remove_prefix(at + 1);
  return !host.empty();
}

std::string url_slug(std::string_view url) {
  auto parts = split_url(url);
  auto dirs = words(parts.path, [](char c) { return c == '/'; });
  if (dirs.empty())
    return std::string{parts.host};
  auto name = strip_git_suffix(dirs.back());
  if (dirs.size() == 1)
    return name;
  return std::string{dirs[dirs.size() - 2]} + "/" + name;
}

std::string mirror_name(std::string_view url) {
  auto parts = split_url(url);
  auto not_word = [](char c) { return !is_word_char(c); };
  std::string readable;
  for (auto part : {parts.host, parts.path})
    for (auto word : words(part, not_word)) {
      if (!readable.empty())
        readable += '-';
      readable.append(word.data(), word.size());
    }
  if (readable.size() > max_readable_name)
    readable.resize(max_readable_name);
  // A leading dot would hide the directory, a leading dash looks like an
  // option to every command line tool.
  auto first = readable.find_first_not_of(".-");
  readable.erase(0, first == std::string::npos ? readable.size() : first);
  while (!readable.empty() && (readable.back() == '.' || readable.back() == '-'))
    readable.pop_back();
  auto hash = hex_hash(url);
  return readable.empty() ? hash : readable + "-" + hash;
}

// -- mirrors ------------------------------------------------------------------

scoped_fetch_tokens::scoped_fetch_tokens(fetch_token_provider tokens)
  : tokens_(std::move(tokens)), previous_(current_tokens) {
  current_tokens = &tokens_;
}

scoped_fetch_tokens::~scoped_fetch_tokens() {
  current_tokens = previous_;
}

caf::expected<fs::path> update_mirror(const fs::path& root,
                                      const std::string& url) {
  if (root.empty())
    return make_error(errc::unknown_repository,
                      "repository URLs need a mirror directory, and this "
                      "gatekeeper has none: cannot build '"
                        + url + "'");
  ensure_libgit2();
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return make_error(errc::unknown_repository,
                      "cannot create the mirror directory '" + root.string()
                        + "': " + ec.message());
  auto dir = root / mirror_name(url);
  if (auto repo = open_mirror(dir)) {
    if (auto err = fetch(repo.get(), url))
      return err;
    return dir;
  }
  if (auto err = create_mirror(dir, url))
    return err;
  return dir;
}

} // namespace conveyor
