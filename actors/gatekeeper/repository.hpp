#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

struct git_repository;

namespace conveyor {

// -- values -------------------------------------------------------------------

/// A commit a ref resolves to.
struct commit_info {
  std::string sha;     ///< the full hex sha
  std::string message; ///< the commit message, trailing newlines removed
  std::string branch;  ///< the branch, if the ref is one or HEAD points at one
  std::string tag;     ///< the tag, if the ref is one
};

/// A build config file read at a commit.
struct config_file {
  std::string name;    ///< ".conveyor.yml" or ".travis.yml"; empty if neither
  std::string content;
  std::string id;      ///< the blob's hex object id (a hash of `content`);
                       ///< empty if unknown
};

/// The names of the build config files, in the order they are looked for.
constexpr const char* config_file_names[] = {".conveyor.yml", ".travis.yml"};

/// The hex object id git gives a blob holding `content` (what `config_file`
/// keeps as `id`, and GitHub as a file's `sha`), computed without a
/// repository.
std::string blob_id_of(std::string_view content);

// -- repository ---------------------------------------------------------------

/// A local git repository (a working copy or a bare one), read with libgit2.
/// Not thread-safe: open one per thread or per request.
class repository {
public:
  /// Opens the repository at `path` (not a parent of it); fails with
  /// `errc::unknown_repository`. Errors about refs and files name the
  /// repository `label` (e.g. the URL of a mirror), or `path` if it is empty.
  static caf::expected<repository> open(const std::string& path,
                                        std::string label = {});

  repository(repository&&) noexcept;
  repository& operator=(repository&&) noexcept;
  ~repository();

  /// Resolves `ref` (default HEAD; a branch, a tag, `refs/...`, a full or short
  /// sha) to a commit; fails with `errc::unknown_ref`.
  caf::expected<commit_info> resolve(const std::string& ref = "HEAD") const;

  /// Reads the file at `file_path` in commit `sha`; `std::nullopt` if the
  /// commit has no regular file there. Fails with `errc::unknown_ref` if `sha`
  /// names no commit.
  caf::expected<std::optional<std::string>>
  read_file(const std::string& sha, const std::string& file_path) const;

  /// Reads the build config at commit `sha`: `.conveyor.yml` if present, else
  /// `.travis.yml`, else a `config_file` with an empty name. Fills the blob id.
  caf::expected<config_file> read_build_config(const std::string& sha) const;

  /// The path the repository was opened with.
  const std::string& path() const {
    return path_;
  }

  /// The name errors give the repository (see `open`).
  const std::string& label() const {
    return label_;
  }

  /// The repository's name: the last directory of its absolute path, without
  /// a `.git` suffix (see `repository_name`).
  std::string name() const;

private:
  struct deleter {
    void operator()(git_repository* x) const;
  };

  repository(std::string path, std::string label, git_repository* handle);

  std::string path_;
  std::string label_;
  std::unique_ptr<git_repository, deleter> handle_;
};

// -- names --------------------------------------------------------------------

/// The repository's name from its path: the last directory, without a `.git`
/// suffix (`/srv/demo.git`, `/src/demo/.git` and `/src/demo/.` give `demo`).
std::string repository_name(const std::string& path);

/// The branch or the tag a ref names.
struct ref_names {
  std::string branch;
  std::string tag;
};

/// Reads the names in a full ref without a repository: `refs/heads/x` gives
/// branch `x`, `refs/tags/v1` gives tag `v1`, anything else gives neither.
ref_names names_of_ref(const std::string& ref);

} // namespace conveyor
