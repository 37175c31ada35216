#include "actors/gatekeeper/repository.hpp"

#include <filesystem>

#include "actors/gatekeeper/git_handles.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

std::string short_sha(const std::string& sha) {
  return sha.substr(0, 7);
}

// Peels whatever `spec` names down to a commit; tags and refs peel to the
// commit they point at.
caf::expected<git_object_ptr> commit_object(git_repository* repo,
                                        const std::string& path,
                                        const std::string& spec,
                                        git_reference_ptr* ref_out) {
  git_object* raw = nullptr;
  git_reference* raw_ref = nullptr;
  if (git_revparse_ext(&raw, &raw_ref, repo, spec.c_str()) != 0)
    return make_error(errc::unknown_ref,
                      "unknown ref '" + spec + "' in repository '" + path
                        + "': " + last_git_error());
  git_object_ptr obj{raw};
  git_reference_ptr ref{raw_ref};
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_COMMIT) != 0)
    return make_error(errc::unknown_ref, "ref '" + spec + "' in repository '"
                                           + path + "' names no commit");
  if (ref_out != nullptr)
    *ref_out = std::move(ref);
  return git_object_ptr{peeled};
}

// Fills the branch or the tag the reference names; a symbolic reference such
// as HEAD is followed to the branch it points at.
void fill_names(git_reference* ref, commit_info& info) {
  if (ref == nullptr)
    return;
  git_reference* raw = nullptr;
  if (git_reference_resolve(&raw, ref) != 0)
    return;
  git_reference_ptr direct{raw};
  if (git_reference_is_branch(direct.get())) {
    info.branch = git_reference_shorthand(direct.get());
  } else if (git_reference_is_tag(direct.get())) {
    info.tag = git_reference_shorthand(direct.get());
  } else if (git_reference_is_remote(direct.get())) {
    std::string name = git_reference_shorthand(direct.get());
    git_buf remote = GIT_BUF_INIT;
    if (git_branch_remote_name(&remote, git_reference_owner(direct.get()),
                               git_reference_name(direct.get()))
          == 0
        && remote.ptr != nullptr) {
      std::string prefix = std::string{remote.ptr} + "/";
      if (name.compare(0, prefix.size(), prefix) == 0)
        name.erase(0, prefix.size());
    }
    git_buf_dispose(&remote);
    info.branch = name;
  }
}

// A regular file of a commit: its blob's id and content.
struct blob_text {
  std::string id;
  std::string content;
};

// Reads the file at `file_path` in commit `sha`; `std::nullopt` if the commit
// has no regular file there.
caf::expected<std::optional<blob_text>>
read_blob(git_repository* repo, const std::string& label,
          const std::string& sha, const std::string& file_path) {
  auto obj = commit_object(repo, label, sha, nullptr);
  if (!obj)
    return std::move(obj.error());
  auto commit = reinterpret_cast<const git_commit*>(obj->get());
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, commit) != 0)
    return make_error(errc::unknown_ref, "cannot read the tree of commit "
                                           + short_sha(sha) + " in '" + label
                                           + "': " + last_git_error());
  git_tree_ptr tree{raw_tree};
  git_tree_entry* raw_entry = nullptr;
  if (git_tree_entry_bypath(&raw_entry, tree.get(), file_path.c_str()) != 0)
    return std::optional<blob_text>{};
  git_tree_entry_ptr entry{raw_entry};
  // Only regular files count: a directory or a symlink of that name is not a
  // config file.
  auto mode = git_tree_entry_filemode(entry.get());
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
    return std::optional<blob_text>{};
  git_blob* raw_blob = nullptr;
  if (git_blob_lookup(&raw_blob, repo, git_tree_entry_id(entry.get())) != 0)
    return make_error(errc::unknown_ref, "cannot read '" + file_path
                                           + "' at commit " + short_sha(sha)
                                           + " in '" + label
                                           + "': " + last_git_error());
  git_blob_ptr blob{raw_blob};
  blob_text result;
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof(hex), git_blob_id(blob.get()));
  result.id = hex;
  auto data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  auto size = static_cast<size_t>(git_blob_rawsize(blob.get()));
  result.content.assign(data, size);
  return std::optional<blob_text>{std::move(result)};
}

} // namespace

std::string blob_id_of(std::string_view content) {
  ensure_libgit2();
  git_oid oid;
  if (git_odb_hash(&oid, content.data(), content.size(), GIT_OBJECT_BLOB) != 0)
    return {}; // only on out of memory: an empty id is never cached
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof(hex), &oid);
  return hex;
}

// -- repository ---------------------------------------------------------------

void repository::deleter::operator()(git_repository* x) const {
  git_repository_free(x);
}

repository::repository(std::string path, std::string label,
                       git_repository* handle)
  : path_(std::move(path)), label_(std::move(label)), handle_(handle) {
  // nop
}

repository::repository(repository&&) noexcept = default;

repository& repository::operator=(repository&&) noexcept = default;

repository::~repository() = default;

caf::expected<repository> repository::open(const std::string& path,
                                           std::string label) {
  ensure_libgit2();
  if (path.empty())
    return make_error(errc::unknown_repository, "no repository path given");
  git_repository* raw = nullptr;
  // NO_SEARCH: a directory inside some other repository must not open that one.
  if (git_repository_open_ext(&raw, path.c_str(),
                              GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr)
      != 0)
    return make_error(errc::unknown_repository,
                      "cannot open git repository '" + path
                        + "': " + last_git_error());
  if (label.empty())
    label = path;
  return repository{path, std::move(label), raw};
}

std::string repository::name() const {
  // libgit2 keeps the absolute path, so `.` or `repo/.` still give a name.
  const char* dir = git_repository_workdir(handle_.get());
  if (dir == nullptr)
    dir = git_repository_path(handle_.get());
  return repository_name(dir != nullptr ? dir : path_);
}

caf::expected<commit_info> repository::resolve(const std::string& ref) const {
  auto spec = ref.empty() ? std::string{"HEAD"} : ref;
  git_reference_ptr named;
  auto obj = commit_object(handle_.get(), label_, spec, &named);
  if (!obj)
    return std::move(obj.error());
  auto commit = reinterpret_cast<const git_commit*>(obj->get());
  commit_info result;
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
  result.sha = hex;
  if (const char* message = git_commit_message(commit))
    result.message = trim_trailing_newlines(message);
  fill_names(named.get(), result);
  return result;
}

caf::expected<std::optional<std::string>>
repository::read_file(const std::string& sha,
                      const std::string& file_path) const {
  auto blob = read_blob(handle_.get(), label_, sha, file_path);
  if (!blob)
    return std::move(blob.error());
  if (!*blob)
    return std::optional<std::string>{};
  return std::optional<std::string>{std::move((*blob)->content)};
}

caf::expected<config_file>
repository::read_build_config(const std::string& sha) const {
  for (const char* name : config_file_names) {
    auto blob = read_blob(handle_.get(), label_, sha, name);
    if (!blob)
      return std::move(blob.error());
    if (*blob)
      return config_file{name, std::move((*blob)->content),
                         std::move((*blob)->id)};
  }
  return config_file{};
}

// -- names --------------------------------------------------------------------

std::string repository_name(const std::string& path) {
  auto trimmed = std::filesystem::path{path}.lexically_normal().string();
  for (;;) {
    while (trimmed.size() > 1 && trimmed.back() == '/')
      trimmed.pop_back();
    auto slash = trimmed.find_last_of('/');
    auto base = slash == std::string::npos ? trimmed
                                           : trimmed.substr(slash + 1);
    if (base == ".git" && slash != std::string::npos && slash > 0) {
      trimmed.erase(slash);
      continue;
    }
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".git") == 0)
      base.erase(base.size() - 4);
    return base;
  }
}

ref_names names_of_ref(const std::string& ref) {
  static const std::string heads = "refs/heads/";
  static const std::string tags = "refs/tags/";
  ref_names result;
  if (ref.compare(0, heads.size(), heads) == 0)
    result.branch = ref.substr(heads.size());
  else if (ref.compare(0, tags.size(), tags) == 0)
    result.tag = ref.substr(tags.size());
  return result;
}

} // namespace conveyor
