// Berkeley DB hash files through the C API (no exceptions cross our code).
#include "lib/bdb.h"
#include <db.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/unique_fd.h"

namespace {
Error db_error(const std::string& what, int rc) { return Error{rc > 0 ? rc : EIO, what + ": " + db_strerror(rc)}; }

Result<DB*> open_db(const std::string& path, u_int32_t flags, int mode) {
    DB* db = nullptr;
    int rc = db_create(&db, nullptr, 0);
    if (rc != 0) return db_error("db_create", rc);
    rc = db->open(db, nullptr, path.c_str(), nullptr, DB_HASH, flags, mode);
    if (rc != 0) {
        db->close(db, 0);
        return db_error(path, rc);
    }
    return db;
}

DBT make_dbt(std::string_view s) {
    DBT d;
    std::memset(&d, 0, sizeof d);
    d.data = const_cast<char*>(s.data());
    d.size = static_cast<u_int32_t>(s.size());
    return d;
}

std::optional<std::string> db_get(DB* db, std::string_view key) {
    DBT k = make_dbt(key), v;
    std::memset(&v, 0, sizeof v);
    if (db->get(db, nullptr, &k, &v, 0) != 0) return std::nullopt;
    return std::string(static_cast<const char*>(v.data), v.size);
}

void db_each(DB* db, const std::function<bool(std::string_view, std::string_view)>& fn) {
    DBC* cur = nullptr;
    if (db->cursor(db, nullptr, &cur, 0) != 0) return;
    DBT k, v;
    std::memset(&k, 0, sizeof k);
    std::memset(&v, 0, sizeof v);
    while (cur->get(cur, &k, &v, DB_NEXT) == 0) {
        if (!fn(std::string_view(static_cast<const char*>(k.data), k.size),
                std::string_view(static_cast<const char*>(v.data), v.size)))
            break;
    }
    cur->close(cur);
}

unsigned long inode_of(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
}

// The lock of a DbStore, held for one operation.
struct StoreLock {
    UniqueFd fd;
    static Result<StoreLock> take(const std::string& path, unsigned mode) {
        StoreLock l;
        l.fd.reset(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode));
        if (!l.fd) return sys_error("lock " + path);
        while (::flock(l.fd.get(), LOCK_EX) < 0)
            if (errno != EINTR) return sys_error("flock " + path);
        return l;
    }
};

struct DbCloser {
    DB* db;
    ~DbCloser() { if (db) db->close(db, 0); }
};
}  // namespace

Result<DbReader> DbReader::open(const std::string& path) {
    auto db = open_db(path, DB_RDONLY, 0);
    if (!db) return db.error();
    DbReader r;
    r.db_ = *db;
    r.path_ = path;
    r.ino_ = inode_of(path);
    return r;
}

DbReader::DbReader(DbReader&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), ino_(o.ino_) { o.db_ = nullptr; }
DbReader& DbReader::operator=(DbReader&& o) noexcept {
    if (this != &o) {
        if (db_) db_->close(db_, 0);
        db_ = o.db_;
        o.db_ = nullptr;
        path_ = std::move(o.path_);
        ino_ = o.ino_;
    }
    return *this;
}
DbReader::~DbReader() { if (db_) db_->close(db_, 0); }

std::optional<std::string> DbReader::get(std::string_view key) const { return db_get(db_, key); }
void DbReader::for_each(const std::function<bool(std::string_view, std::string_view)>& fn) const { db_each(db_, fn); }
bool DbReader::changed() const { return inode_of(path_) != ino_; }

Result<DbBuilder> DbBuilder::create(const std::string& path, unsigned mode) {
    DbBuilder b;
    b.path_ = path;
    b.tmp_ = path + ".tmp." + std::to_string(::getpid());
    ::unlink(b.tmp_.c_str());
    auto db = open_db(b.tmp_, DB_CREATE | DB_EXCL, static_cast<int>(mode));
    if (!db) return db.error();
    b.db_ = *db;
    return b;
}

DbBuilder::DbBuilder(DbBuilder&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), tmp_(std::move(o.tmp_)) { o.db_ = nullptr; o.tmp_.clear(); }
DbBuilder& DbBuilder::operator=(DbBuilder&& o) noexcept {
    if (this != &o) {
        this->~DbBuilder();
        db_ = o.db_;
        o.db_ = nullptr;
        path_ = std::move(o.path_);
        tmp_ = std::move(o.tmp_);
        o.tmp_.clear();
    }
    return *this;
}
DbBuilder::~DbBuilder() {
    if (db_) db_->close(db_, 0);
    db_ = nullptr;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status DbBuilder::put(std::string_view key, std::string_view value) {
    DBT k = make_dbt(key), v = make_dbt(value);
    int rc = db_->put(db_, nullptr, &k, &v, 0);
    if (rc != 0) return db_error("put " + tmp_, rc);
    return ok_status();
}

Status DbBuilder::commit() {
    int rc = db_->close(db_, 0);   // close flushes the file
    db_ = nullptr;
    if (rc != 0) return db_error("close " + tmp_, rc);
    UniqueFd fd(::open(tmp_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + tmp_);
    if (auto s = fsync_fd(fd.get(), tmp_); !s) return s;
    if (::rename(tmp_.c_str(), path_.c_str()) < 0) return sys_error("rename " + tmp_);
    tmp_.clear();
    return fsync_dir(dir_of(path_));
}

Result<std::optional<std::string>> DbStore::get(std::string_view key) const {
    auto lock = StoreLock::take(path_, mode_);
    if (!lock) return lock.error();
    if (!path_exists(path_)) return std::optional<std::string>();
    auto db = open_db(path_, DB_RDONLY, 0);
    if (!db) return db.error();
    DbCloser c{*db};
    return db_get(*db, key);
}

Status DbStore::update(std::string_view key,
                       const std::function<std::optional<std::string>(const std::optional<std::string>&)>& fn) {
    auto lock = StoreLock::take(path_, mode_);
    if (!lock) return lock.error();
    auto db = open_db(path_, DB_CREATE, static_cast<int>(mode_));
    if (!db) return db.error();
    DbCloser c{*db};
    auto next = fn(db_get(*db, key));
    DBT k = make_dbt(key);
    int rc;
    if (next) {
        DBT v = make_dbt(*next);
        rc = (*db)->put(*db, nullptr, &k, &v, 0);
    } else {
        rc = (*db)->del(*db, nullptr, &k, 0);
        if (rc == DB_NOTFOUND) rc = 0;
    }
    if (rc != 0) return db_error("update " + path_, rc);
    rc = (*db)->sync(*db, 0);
    if (rc != 0) return db_error("sync " + path_, rc);
    return ok_status();
}

Status DbStore::put(std::string_view key, std::string_view value) {
    std::string v(value);
    return update(key, [&](const std::optional<std::string>&) { return std::optional<std::string>(v); });
}

Status DbStore::erase(std::string_view key) {
    return update(key, [](const std::optional<std::string>&) { return std::optional<std::string>(); });
}

Status DbStore::for_each(const std::function<bool(std::string_view, std::string_view)>& fn) const {
    auto lock = StoreLock::take(path_, mode_);
    if (!lock) return lock.error();
    if (!path_exists(path_)) return ok_status();
    auto db = open_db(path_, DB_RDONLY, 0);
    if (!db) return db.error();
    DbCloser c{*db};
    db_each(*db, fn);
    return ok_status();
}

Status DbStore::clear() {
    auto lock = StoreLock::take(path_, mode_);
    if (!lock) return lock.error();
    if (::unlink(path_.c_str()) < 0 && errno != ENOENT) return sys_error("unlink " + path_);
    return ok_status();
}
