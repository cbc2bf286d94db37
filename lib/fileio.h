// Durable file primitives shared by every writer of the spool and of Maildirs.
// A 250 after DATA promises the message is on stable storage: write, fsync the file,
// link/rename it into place, fsync the directory. These helpers are that sequence.
#pragma once
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"
#include "lib/unique_fd.h"

Status write_all(int fd, std::string_view data);           // retries short writes and EINTR
Result<std::string> read_all(int fd, size_t limit);         // error if more than limit bytes
Result<std::string> read_file(const std::string& path, size_t limit);
Status fsync_fd(int fd, const std::string& what);           // what names the file for errors
Status fsync_dir(const std::string& dir);
// Creates dir (mode) if missing; when it had to be created, fsyncs the parent as well.
Status ensure_dir(const std::string& dir, unsigned mode);
// Writes data to dir/.name.tmp, fsyncs it, renames to dir/name, fsyncs dir.
Status write_file_durably(const std::string& dir, const std::string& name,
                          std::string_view data, unsigned mode);
std::string dir_of(const std::string& path);                // "a/b/c" -> "a/b"; "c" -> "."
bool path_exists(const std::string& path);
// The names in a folder, sorted, without "." and ".." and other names that start with
// a dot; empty when it cannot be read.
std::vector<std::string> directory_names(const std::string& dir);
