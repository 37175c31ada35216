#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "actors/gatekeeper/config_source.hpp"

namespace conveyor {

// -- URLs ---------------------------------------------------------------------

/// True if `repo` names a remote repository rather than a local path: a URL
/// with a scheme (`https://`, `http://`, `git://`, `ssh://`, `file://` or any
/// other `scheme://`), or git's scp-like form `[user@]host:path` (a colon
/// before any slash, after a non-empty host). Everything else is a path.
bool is_repository_url(std::string_view repo);

/// The slug of a repository URL: the last two directories of its path,
/// `owner/name`, without a `.git` suffix (`name` alone if the path has one).
/// `https://github.com/octo/demo.git` and `git@github.com:octo/demo` both
/// give `octo/demo`. User info, query and fragment are ignored.
std::string url_slug(std::string_view url);

/// The name of the directory that mirrors `url` under a mirror root: the
/// URL's host and path as words of letters, digits, `.`, `_` and `-` joined
/// by `-` (at most 64 characters; without user info, query, fragment and
/// `.`/`..` segments), then `-` and 16 hex digits of the SHA-1 of the whole
/// URL, e.g. `github.com-octo-demo.git-0123456789abcdef`. Always a single
/// path component that is neither `.`, `..` nor hidden, so the mirror stays
/// inside its root; distinct URLs get distinct names.
std::string mirror_name(std::string_view url);

// -- mirrors ------------------------------------------------------------------

/// Brings the bare mirror of `url` under `root` up to date and returns its
/// directory, `root / mirror_name(url)`.
///
/// On first use it creates `root` if needed and the mirror (with libgit2, in
/// `<name>.partial`, renamed once the first fetch succeeded: a failed first
/// fetch leaves nothing behind; a mirror that no longer opens is rebuilt).
/// Every call fetches all branches and tags from `url` with pruning
/// (`+refs/heads/*:refs/heads/*`, `+refs/tags/*:refs/tags/*`) and points the
/// mirror's HEAD at the remote's default branch. `url.*.insteadOf` rules of
/// git configs are not applied. Credentials are sent only when the server
/// asks for them and a `scoped_fetch_tokens` of the calling thread gives a
/// token for `url`: user `x-access-token`, the token as password (once per
/// fetch; a refused token fails the fetch).
///
/// Fails with `errc::unknown_repository`: "repository URLs need a mirror
/// directory" when `root` is empty; libgit2's message when the URL is
/// unreachable, needs authentication or is not a repository; the system's
/// message when the mirror cannot be written.
///
/// Calls for the same mirror must not overlap (they would share the
/// `.partial` directory and the mirror's lock files): call it from one thread
/// at a time, as the gatekeeper does from its own thread.
caf::expected<std::filesystem::path>
update_mirror(const std::filesystem::path& root, const std::string& url);

/// While it lives, `update_mirror` calls on the thread that made it ask
/// `tokens` for the token of the URL they fetch (see `update_mirror`). The
/// gatekeeper makes one around each request it resolves. Nests: the
/// innermost one counts.
class scoped_fetch_tokens {
public:
  explicit scoped_fetch_tokens(fetch_token_provider tokens);
  ~scoped_fetch_tokens();

  scoped_fetch_tokens(const scoped_fetch_tokens&) = delete;
  scoped_fetch_tokens& operator=(const scoped_fetch_tokens&) = delete;

private:
  fetch_token_provider tokens_;
  const fetch_token_provider* previous_;
};

} // namespace conveyor
