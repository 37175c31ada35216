#pragma once

// libgit2 plumbing shared by the files of the gatekeeper that read or fetch
// repositories. Private to this folder: it includes <git2.h>.

#include <memory>
#include <string>

#include <git2.h>

namespace conveyor {

/// Initializes libgit2 once per process (never undone, so that repositories
/// opened on any thread stay valid). Call before any other libgit2 function.
void ensure_libgit2();

/// Frees a libgit2 object with its own free function.
template <class T, void (*Free)(T*)>
struct git_deleter {
  void operator()(T* x) const {
    Free(x);
  }
};

/// Owning handles of libgit2 objects.
using git_object_ptr
  = std::unique_ptr<git_object, git_deleter<git_object, git_object_free>>;
using git_reference_ptr
  = std::unique_ptr<git_reference,
                    git_deleter<git_reference, git_reference_free>>;
using git_tree_ptr
  = std::unique_ptr<git_tree, git_deleter<git_tree, git_tree_free>>;
using git_tree_entry_ptr
  = std::unique_ptr<git_tree_entry,
                    git_deleter<git_tree_entry, git_tree_entry_free>>;
using git_blob_ptr
  = std::unique_ptr<git_blob, git_deleter<git_blob, git_blob_free>>;
using git_repository_ptr
  = std::unique_ptr<git_repository,
                    git_deleter<git_repository, git_repository_free>>;
using git_remote_ptr
  = std::unique_ptr<git_remote, git_deleter<git_remote, git_remote_free>>;
using git_config_ptr
  = std::unique_ptr<git_config, git_deleter<git_config, git_config_free>>;

/// Owns a `git_buf` filled by libgit2.
struct git_buf_guard {
  git_buf buf = GIT_BUF_INIT;

  git_buf_guard() = default;
  git_buf_guard(const git_buf_guard&) = delete;
  git_buf_guard& operator=(const git_buf_guard&) = delete;

  ~git_buf_guard() {
    git_buf_dispose(&buf);
  }
};

/// The message of the last libgit2 error on this thread.
std::string last_git_error();

} // namespace conveyor
