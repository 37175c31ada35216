#include "actors/gatekeeper/git_handles.hpp"

namespace conveyor {

void ensure_libgit2() {
  // libgit2 counts init calls; one per process is enough.
  static const int initialized = git_libgit2_init();
  static_cast<void>(initialized);
}

std::string last_git_error() {
  const git_error* err = git_error_last();
  if (err == nullptr || err->message == nullptr)
    return "unknown libgit2 error";
  return err->message;
}

} // namespace conveyor
