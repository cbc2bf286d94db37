// Berkeley DB hash files: the compiled form of the make* tools' text files (access
// file, aliases, userdb, esmtpacceptmailfor.dat, hosteddomains.dat) and small shared
// state (backscatter list, rate limits). Builders write a temporary file and rename it
// over the old one, so a reader never sees a half-built database.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include "lib/result.h"

struct __db;   // Berkeley DB's DB handle

// Read-only lookups in a compiled database. Cheap to keep open; reopen() after the
// file was replaced (compare the inode with changed()).
class DbReader {
public:
    static Result<DbReader> open(const std::string& path);
    DbReader(DbReader&&) noexcept;
    DbReader& operator=(DbReader&&) noexcept;
    DbReader(const DbReader&) = delete;
    DbReader& operator=(const DbReader&) = delete;
    ~DbReader();

    std::optional<std::string> get(std::string_view key) const;
    // Calls fn for every record; stops early when fn returns false.
    void for_each(const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
    // True when the file at the path is no longer the one this reader has open.
    bool changed() const;

private:
    DbReader() = default;
    __db* db_ = nullptr;
    std::string path_;
    unsigned long ino_ = 0;
};

// Builds a database from scratch: records go to <path>.tmp.<pid>; commit() syncs it and
// renames it over <path>, then fsyncs the folder. Without commit() the temp file is
// removed and the old database stays.
class DbBuilder {
public:
    static Result<DbBuilder> create(const std::string& path, unsigned mode = 0644);
    DbBuilder(DbBuilder&&) noexcept;
    DbBuilder& operator=(DbBuilder&&) noexcept;
    DbBuilder(const DbBuilder&) = delete;
    DbBuilder& operator=(const DbBuilder&) = delete;
    ~DbBuilder();

    Status put(std::string_view key, std::string_view value);   // replaces a duplicate key
    Status commit();

private:
    DbBuilder() = default;
    __db* db_ = nullptr;
    std::string path_, tmp_;
};

// A database updated in place by several processes (backscatter list, rate limits).
// Each operation takes an exclusive lock on <path>.lock for its duration and syncs
// after writing, so concurrent writers never corrupt it.
class DbStore {
public:
    explicit DbStore(std::string path, unsigned mode = 0660) : path_(std::move(path)), mode_(mode) {}
    Result<std::optional<std::string>> get(std::string_view key) const;
    Status put(std::string_view key, std::string_view value);
    Status erase(std::string_view key);
    // Reads and possibly rewrites one record under a single lock: fn gets the current
    // value (nullopt when absent) and returns the new one (nullopt to delete).
    Status update(std::string_view key,
                  const std::function<std::optional<std::string>(const std::optional<std::string>&)>& fn);
    Status for_each(const std::function<bool(std::string_view, std::string_view)>& fn) const;
    Status clear();

private:
    std::string path_;
    unsigned mode_;
};
