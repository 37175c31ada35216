#include "actors/worker/remove_tree.hpp"

#include <system_error>

namespace conveyor {

namespace fs = std::filesystem;

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!ec || !fs::exists(dir, ec))
    return;
  // remove_all stops half-way at a directory it may not open.
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto i = fs::recursive_directory_iterator(
         dir, fs::directory_options::skip_permission_denied, ec);
       !ec && i != fs::recursive_directory_iterator(); i.increment(ec))
    if (i->is_directory(ec) && !i->is_symlink(ec))
      fs::permissions(i->path(), fs::perms::owner_all, fs::perm_options::add,
                      ec);
  fs::remove_all(dir, ec);
}

} // namespace conveyor
