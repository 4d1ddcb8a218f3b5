/* The in-memory file system of a sim (ah_fs_memory): files, directories, symlinks and hard links,
 * descriptors from AH__FS_FD_BASE, directory streams, and the faults of fs.c's rules.
 *
 * Each operation answers as Linux and libuv 1.44 do for the same call: the same negative error
 * codes, req->result/ptr/statbuf/path set as uv__fs_work sets them, results that need memory in
 * the layout libuv's uv_fs_req_cleanup and uv_fs_scandir_next free (malloc'd struct dirent
 * arrays, malloc'd strings). Permissions are not enforced (a test process as root; inject
 * UV_EACCES with ah_fs_fail). A file's data is durable once fsync'd or fdatasync'd; names and
 * directories are durable at once (a journaling file system's metadata); ah_fs_crash returns
 * every file to its durable data. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WALL_EPOCH_S 1700000000LL /* the memory file system's clock: virtual time from here */
#define MAX_LINKS 40              /* symlinks followed in one resolution (Linux's ELOOP) */

typedef struct mnode mnode;

typedef struct ment {
    char *name;
    mnode *node;
} ment;

struct mnode {
    ah__list link; /* memfs->nodes */
    mode_t mode;
    uint64_t ino;
    unsigned nlink, opens;
    uv_uid_t uid;
    uv_gid_t gid;
    unsigned char *data; /* file bytes, or a symlink's target (NUL-terminated) */
    size_t size, cap;
    unsigned char *durable;
    size_t durable_size;
    uv_timespec_t atim, mtim, ctim, birthtim;
    ment *ents; /* a directory's entries, sorted by name */
    size_t nents, ents_cap;
    mnode *parent;
};

typedef struct mfd {
    mnode *node; /* NULL: free slot */
    int flags;
    uint64_t pos;
    char *path;
    ah__site site;
    uint64_t open_ns;
} mfd;

typedef struct mdir {
    ah__list link;
    mnode *node;
    char **names;
    unsigned char *types;
    size_t n, next;
    char *path;
    ah__site site;
    uint64_t open_ns;
} mdir;

struct ah__memfs {
    ah_sim *sim;
    ah__list nodes, dirs;
    mnode *root;
    mfd *fds;
    size_t nfds;
    uint64_t next_ino, tmp_counter;
};

static uv_timespec_t now_ts(struct ah__memfs *m)
{
    uint64_t ns = m->sim->clock.now_ns - m->sim->clock.epoch_ns;
    uv_timespec_t t = {WALL_EPOCH_S + (long)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    return t;
}

static mnode *node_new(struct ah__memfs *m, mode_t mode)
{
    mnode *n = ah__calloc(1, sizeof(*n));

    n->mode = mode;
    n->ino = ++m->next_ino;
    n->uid = getuid();
    n->gid = getgid();
    n->atim = n->mtim = n->ctim = n->birthtim = now_ts(m);
    ah__list_insert_tail(&m->nodes, &n->link);
    return n;
}

static void node_touch(struct ah__memfs *m, mnode *n) { n->mtim = n->ctim = now_ts(m); }

static int ent_find(const mnode *dir, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < dir->nents; i++)
        if (strlen(dir->ents[i].name) == len && memcmp(dir->ents[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void ent_add(struct ah__memfs *m, mnode *dir, const char *name, mnode *n)
{
    size_t i;

    if (dir->nents == dir->ents_cap) {
        dir->ents_cap = dir->ents_cap ? dir->ents_cap * 2 : 8;
        dir->ents = ah__realloc(dir->ents, dir->ents_cap * sizeof(ment));
    }
    for (i = dir->nents; i > 0 && strcmp(dir->ents[i - 1].name, name) > 0; i--)
        dir->ents[i] = dir->ents[i - 1];
    dir->ents[i].name = ah__strdup(name);
    dir->ents[i].node = n;
    dir->nents++;
    n->nlink++;
    if (S_ISDIR(n->mode)) {
        n->parent = dir;
        dir->nlink++; /* the child's ".." */
    }
    node_touch(m, dir);
}

static void ent_remove(struct ah__memfs *m, mnode *dir, int i)
{
    mnode *n = dir->ents[i].node;

    ah__free(dir->ents[i].name);
    memmove(&dir->ents[i], &dir->ents[i + 1], (dir->nents - (size_t)i - 1) * sizeof(ment));
    dir->nents--;
    n->nlink--;
    if (S_ISDIR(n->mode))
        dir->nlink--; /* the child's ".." */
    n->ctim = now_ts(m);
    node_touch(m, dir);
}

/* Where a path leads. */
typedef struct walk {
    mnode *parent; /* the directory holding the last entry */
    mnode *node;   /* the entry, or NULL when only it is missing */
    char leaf[256];
    int slash; /* the path ended with '/' */
} walk;

static void set_leaf(walk *w, const char *p, size_t n)
{
    memcpy(w->leaf, p, n);
    w->leaf[n] = '\0';
}

static int resolve_in(struct ah__memfs *m, mnode *start, const char *path, int follow, walk *w,
                      int *links)
{
    mnode *cur = path[0] == '/' ? m->root : start, *n;
    const char *p = path, *e, *t;
    size_t len = strlen(path);
    int slash, last, idx, r;
    walk tw;

    if (len == 0)
        return UV_ENOENT;
    if (len >= AH__FS_PATH_MAX)
        return UV_ENAMETOOLONG;
    slash = path[len - 1] == '/';
    w->node = cur;
    w->parent = cur->parent != NULL ? cur->parent : cur;
    set_leaf(w, ".", 1);
    w->slash = slash;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        for (e = p; *e != '\0' && *e != '/'; e++)
            ;
        if (e - p > 255)
            return UV_ENAMETOOLONG;
        for (last = 1, t = e; *t != '\0'; t++)
            if (*t != '/')
                last = 0;
        if (!S_ISDIR(cur->mode))
            return UV_ENOTDIR;
        if (e - p == 1 && p[0] == '.') {
            n = cur;
        } else if (e - p == 2 && p[0] == '.' && p[1] == '.') {
            n = cur->parent != NULL ? cur->parent : cur;
        } else {
            idx = ent_find(cur, p, (size_t)(e - p));
            if (idx < 0) {
                if (!last)
                    return UV_ENOENT;
                w->parent = cur;
                w->node = NULL;
                set_leaf(w, p, (size_t)(e - p));
                return 0;
            }
            n = cur->ents[idx].node;
            if (S_ISLNK(n->mode) && (!last || follow || slash)) {
                if (++*links > MAX_LINKS)
                    return UV_ELOOP;
                if ((r = resolve_in(m, cur, (const char *)n->data, 1, &tw, links)) < 0)
                    return r;
                if (tw.node == NULL && !last)
                    return UV_ENOENT;
                if (last) {
                    *w = tw;
                    w->slash = slash;
                    break;
                }
                n = tw.node;
            } else if (last) {
                w->parent = cur;
                w->node = n;
                set_leaf(w, p, (size_t)(e - p));
                break;
            }
        }
        if (last && (n == cur || (e - p <= 2 && p[0] == '.'))) {
            w->node = n;
            w->parent = n->parent != NULL ? n->parent : n;
            set_leaf(w, ".", 1);
            break;
        }
        cur = n;
        p = e;
    }
    if (w->node != NULL && slash && !S_ISDIR(w->node->mode))
        return UV_ENOTDIR;
    return 0;
}

static int resolve(struct ah__memfs *m, const char *path, int follow, walk *w)
{
    int links = 0;
    return resolve_in(m, m->root, path, follow, w, &links);
}

/* The existing entry at path, or an error. */
static int lookup(struct ah__memfs *m, const char *path, int follow, mnode **out)
{
    walk w;
    int r = resolve(m, path, follow, &w);

    if (r < 0)
        return r;
    if (w.node == NULL)
        return UV_ENOENT;
    *out = w.node;
    return 0;
}

/* out = dir + "/" + leaf (no doubled slash after the root), truncated to n. */
static void join(char *out, size_t n, const char *dir, const char *leaf)
{
    size_t a = strlen(dir), b = strlen(leaf);

    if (a == 1 && dir[0] == '/')
        a = 0;
    if (a + 1 + b + 1 > n)
        b = a + 2 < n ? n - a - 2 : 0;
    memmove(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, leaf, b);
    out[a + 1 + b] = '\0';
}

static void path_of(const mnode *dir, char *out, size_t n)
{
    char tmp[AH__FS_PATH_MAX];
    const mnode *p;
    size_t i;

    if (dir->parent == NULL) {
        snprintf(out, n, "/");
        return;
    }
    p = dir->parent;
    for (i = 0; i < p->nents; i++)
        if (p->ents[i].node == dir)
            break;
    path_of(p, tmp, sizeof(tmp));
    join(out, n, tmp, i < p->nents ? p->ents[i].name : "?");
}

uint64_t ah__memfs_used(const struct ah__memfs *m)
{
    const ah__list *q;
    uint64_t used = 0;

    for (q = m->nodes.next; q != &m->nodes; q = q->next) {
        const mnode *n = ah__container_of(q, mnode, link);
        if (S_ISREG(n->mode) && (n->nlink > 0 || n->opens > 0))
            used += n->size;
    }
    return used;
}

static void reserve(mnode *n, size_t size)
{
    if (size <= n->cap)
        return;
    n->cap = size < 64 ? 64 : size * 2;
    n->data = ah__realloc(n->data, n->cap);
}

static void set_size(mnode *n, size_t size)
{
    reserve(n, size);
    if (size > n->size)
        memset(n->data + n->size, 0, size - n->size);
    n->size = size;
}

/* ---- descriptors ---- */

static mfd *fd_get(struct ah__memfs *m, uv_file fd)
{
    size_t i;

    if (fd < AH__FS_FD_BASE)
        return NULL;
    i = (size_t)(fd - AH__FS_FD_BASE);
    return i < m->nfds && m->fds[i].node != NULL ? &m->fds[i] : NULL;
}

int ah__memfs_owns_fd(const struct ah__memfs *m, uv_file fd)
{
    return fd >= AH__FS_FD_BASE && (size_t)(fd - AH__FS_FD_BASE) < m->nfds + 1024;
}

int ah__memfs_fd_flags(const struct ah__memfs *m, uv_file fd)
{
    size_t i = (size_t)(fd - AH__FS_FD_BASE);
    return fd >= AH__FS_FD_BASE && i < m->nfds && m->fds[i].node != NULL ? m->fds[i].flags : -1;
}

const char *ah__memfs_fd_path(const struct ah__memfs *m, uv_file fd)
{
    size_t i = (size_t)(fd - AH__FS_FD_BASE);
    return fd >= AH__FS_FD_BASE && i < m->nfds && m->fds[i].node != NULL ? m->fds[i].path : NULL;
}

int ah__memfs_owns_dir(const struct ah__memfs *m, const uv_dir_t *dir)
{
    const ah__list *q;

    if (dir == NULL)
        return 0;
    for (q = m->dirs.next; q != &m->dirs; q = q->next)
        if ((void *)ah__container_of(q, mdir, link) == (void *)dir->dir)
            return 1;
    return 0;
}

static int fd_new(struct ah__memfs *m, mnode *n, int flags, const char *path, ah__site site)
{
    size_t i;
    char abs[AH__FS_PATH_MAX];

    for (i = 0; i < m->nfds && m->fds[i].node != NULL; i++)
        ;
    if (i == m->nfds) {
        m->fds = ah__realloc(m->fds, (m->nfds + 1) * sizeof(mfd));
        m->nfds++;
    }
    ah__fs_normalize("/", path, abs, sizeof(abs));
    m->fds[i].node = n;
    m->fds[i].flags = flags;
    m->fds[i].pos = 0;
    m->fds[i].path = ah__strdup(abs);
    m->fds[i].site = site;
    m->fds[i].open_ns = m->sim->clock.now_ns;
    n->opens++;
    return AH__FS_FD_BASE + (int)i;
}

static void fd_free(mfd *f)
{
    f->node->opens--;
    f->node = NULL;
    ah__free(f->path);
    f->path = NULL;
}

/* ---- operations ---- */

static int create(struct ah__memfs *m, walk *w, mode_t mode, mnode **out)
{
    mnode *n;

    if (w->parent == NULL || !S_ISDIR(w->parent->mode))
        return UV_ENOTDIR;
    if (w->parent->nlink == 0)
        return UV_ENOENT; /* a removed directory */
    n = node_new(m, mode);
    if (S_ISDIR(mode))
        n->nlink = 1; /* its "." */
    ent_add(m, w->parent, w->leaf, n);
    *out = n;
    return 0;
}

static ssize_t op_open(struct ah__memfs *m, const ah__fsop *o, const char *path)
{
    walk w;
    mnode *n;
    int acc = o->flags & O_ACCMODE;
    int r = resolve(m, path,
                    !(o->flags & O_NOFOLLOW) && !((o->flags & O_CREAT) && (o->flags & O_EXCL)), &w);

    if (r < 0)
        return r;
    n = w.node;
    if (n == NULL) {
        if (!(o->flags & O_CREAT))
            return UV_ENOENT;
        if (w.slash)
            return UV_EISDIR;
        r = create(m, &w, S_IFREG | ((mode_t)o->mode & 07777 & ~(mode_t)022), &n);
        if (r < 0)
            return r;
    } else {
        if ((o->flags & O_CREAT) && (o->flags & O_EXCL))
            return UV_EEXIST;
        if (S_ISLNK(n->mode))
            return UV_ELOOP; /* O_NOFOLLOW */
        if (S_ISDIR(n->mode) && (acc != O_RDONLY || (o->flags & O_CREAT)))
            return UV_EISDIR;
        if ((o->flags & O_DIRECTORY) && !S_ISDIR(n->mode))
            return UV_ENOTDIR;
        if ((o->flags & O_TRUNC) && S_ISREG(n->mode) && n->size > 0) {
            n->size = 0;
            node_touch(m, n);
        }
    }
    return fd_new(m, n, o->flags, path, o->site);
}

static size_t short_limit(ah__fs *fs, const char *path, size_t want)
{
    ah__fsrule *r = ah__fs_rule(fs, AH__FSR_SHORT, UV_FS_UNKNOWN, path);
    return r != NULL && r->n < want ? (size_t)r->n : want;
}

static ssize_t op_read(ah__fs *fs, struct ah__memfs *m, const ah__fsop *o)
{
    mfd *f = fd_get(m, o->file);
    uint64_t off;
    size_t want = 0, got = 0, i;

    if (f == NULL || (f->flags & O_ACCMODE) == O_WRONLY)
        return UV_EBADF;
    if (S_ISDIR(f->node->mode))
        return UV_EISDIR;
    off = o->off < 0 ? f->pos : (uint64_t)o->off;
    for (i = 0; i < o->nbufs; i++)
        want += o->bufs[i].len;
    want = short_limit(fs, f->path, want);
    for (i = 0; i < o->nbufs && got < want && off + got < f->node->size; i++) {
        size_t k = o->bufs[i].len;
        if (k > want - got)
            k = want - got;
        if (k > f->node->size - (off + got))
            k = f->node->size - (off + got);
        memcpy(o->bufs[i].base, f->node->data + off + got, k);
        got += k;
    }
    f->node->atim = now_ts(m);
    if (o->off < 0)
        f->pos += got;
    return (ssize_t)got;
}

/* One write(2): at most what the short-io rule and the free space allow. */
static ssize_t write_once(ah__fs *fs, struct ah__memfs *m, mfd *f, uint64_t off, const char *src,
                          size_t n)
{
    mnode *node = f->node;

    n = short_limit(fs, f->path, n);
    if (fs->has_capacity && off + n > node->size) {
        uint64_t used = ah__memfs_used(m);
        uint64_t room = fs->capacity > used ? fs->capacity - used : 0;
        uint64_t grow = off + n - node->size;
        if (grow > room) {
            uint64_t cut = grow - room;
            if (cut >= n)
                return UV_ENOSPC;
            n -= (size_t)cut;
        }
    }
    if (off + n > node->size)
        set_size(node, (size_t)(off + n));
    memcpy(node->data + off, src, n);
    node_touch(m, node);
    return (ssize_t)n;
}

/* libuv's uv__fs_write_all: writes until every buffer is written or a write fails; a failure
 * after some bytes returns the bytes. */
static ssize_t op_write(ah__fs *fs, struct ah__memfs *m, const ah__fsop *o)
{
    mfd *f = fd_get(m, o->file);
    uint64_t off;
    ssize_t total = 0;
    unsigned i;

    if (f == NULL || (f->flags & O_ACCMODE) == O_RDONLY)
        return UV_EBADF;
    off = (f->flags & O_APPEND) ? f->node->size : o->off < 0 ? f->pos : (uint64_t)o->off;
    for (i = 0; i < o->nbufs; i++) {
        size_t done = 0;
        while (done < o->bufs[i].len) {
            ssize_t r = write_once(fs, m, f, off, o->bufs[i].base + done, o->bufs[i].len - done);
            if (r <= 0) {
                if (total == 0)
                    total = r;
                goto out;
            }
            done += (size_t)r;
            off += (uint64_t)r;
            total += r;
            if (o->once)
                goto out;
        }
    }
out:
    if (total > 0 && (o->off < 0 || (f->flags & O_APPEND)))
        f->pos = off;
    return total;
}

static void fill_stat(const mnode *n, uv_stat_t *s)
{
    memset(s, 0, sizeof(*s));
    s->st_dev = 0xa5;
    s->st_mode = n->mode;
    s->st_nlink = n->nlink;
    s->st_uid = n->uid;
    s->st_gid = n->gid;
    s->st_ino = n->ino;
    s->st_size = S_ISDIR(n->mode) ? 4096 : n->size;
    s->st_blksize = 4096;
    s->st_blocks = (s->st_size + 4095) / 4096 * 8;
    s->st_atim = n->atim;
    s->st_mtim = n->mtim;
    s->st_ctim = n->ctim;
    s->st_birthtim = n->birthtim;
}

static int subdir_of(const mnode *a, const mnode *b) /* a is b or below it */
{
    for (; a != NULL; a = a->parent)
        if (a == b)
            return 1;
    return 0;
}

static ssize_t op_rename(struct ah__memfs *m, const char *from, const char *to)
{
    walk a, b;
    mnode *n, *old;
    int r;

    if ((r = resolve(m, from, 0, &a)) < 0)
        return r;
    if (a.node == NULL)
        return UV_ENOENT;
    if ((r = resolve(m, to, 0, &b)) < 0)
        return r;
    if (b.parent == NULL || !S_ISDIR(b.parent->mode))
        return UV_ENOTDIR;
    n = a.node;
    old = b.node;
    if (old == n)
        return 0;
    if (S_ISDIR(n->mode) && subdir_of(b.parent, n))
        return UV_EINVAL;
    if (old != NULL) {
        if (S_ISDIR(n->mode) && !S_ISDIR(old->mode))
            return UV_ENOTDIR;
        if (!S_ISDIR(n->mode) && S_ISDIR(old->mode))
            return UV_EISDIR;
        if (S_ISDIR(old->mode) && old->nents > 0)
            return UV_ENOTEMPTY;
    }
    if (!S_ISDIR(n->mode) && b.slash)
        return UV_ENOTDIR;
    if (old != NULL) {
        ent_remove(m, b.parent, ent_find(b.parent, b.leaf, strlen(b.leaf)));
        if (S_ISDIR(old->mode))
            old->nlink = 0;
    }
    ent_remove(m, a.parent, ent_find(a.parent, a.leaf, strlen(a.leaf)));
    ent_add(m, b.parent, b.leaf, n);
    n->ctim = now_ts(m);
    return 0;
}

static ssize_t op_unlink_rmdir(struct ah__memfs *m, const char *path, int dir)
{
    walk w;
    int r = resolve(m, path, 0, &w);

    if (r < 0)
        return r;
    if (w.node == NULL)
        return UV_ENOENT;
    if (dir) {
        if (!S_ISDIR(w.node->mode))
            return UV_ENOTDIR;
        if (w.node == m->root)
            return UV_EBUSY;
        if (strcmp(w.leaf, ".") == 0)
            return UV_EINVAL;
        if (w.node->nents > 0)
            return UV_ENOTEMPTY;
    } else if (S_ISDIR(w.node->mode)) {
        return UV_EISDIR;
    }
    ent_remove(m, w.parent, ent_find(w.parent, w.leaf, strlen(w.leaf)));
    if (dir)
        w.node->nlink = 0; /* its "." goes with it */
    return 0;
}

static int tpl_ok(const char *path)
{
    size_t n = strlen(path);
    return n >= 6 && strcmp(path + n - 6, "XXXXXX") == 0;
}

static void tpl_fill(struct ah__memfs *m, char *path)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t v = ++m->tmp_counter * 2654435761u;
    char *p = path + strlen(path) - 6;
    int i;

    for (i = 0; i < 6; i++, v /= 62)
        p[i] = chars[v % 62];
}

static ssize_t op_mktemp(struct ah__memfs *m, uv_fs_t *req, const ah__fsop *o)
{
    char *path = strdup(o->path); /* libuv always copies the template (uv_fs_req_cleanup frees) */
    walk w;
    mnode *n;
    int r, tries;

    req->path = path;
    if (path == NULL)
        return UV_ENOMEM;
    if (!tpl_ok(path)) {
        if (o->type == UV_FS_MKSTEMP)
            path[0] = '\0';
        return UV_EINVAL;
    }
    for (tries = 0; tries < 100; tries++) {
        tpl_fill(m, path);
        if ((r = resolve(m, path, 0, &w)) < 0)
            break;
        if (w.node != NULL)
            continue;
        r = create(m, &w, o->type == UV_FS_MKDTEMP ? S_IFDIR | 0700 : S_IFREG | 0600, &n);
        if (r < 0)
            break;
        if (o->type == UV_FS_MKDTEMP)
            return 0;
        return fd_new(m, n, O_RDWR | O_CREAT | O_EXCL, path, o->site);
    }
    if (r >= 0)
        r = UV_EEXIST;
    if (o->type == UV_FS_MKSTEMP)
        path[0] = '\0';
    return r;
}

static unsigned char dtype(const mnode *n)
{
    return S_ISDIR(n->mode) ? DT_DIR : S_ISLNK(n->mode) ? DT_LNK : DT_REG;
}

static ssize_t op_scandir(struct ah__memfs *m, uv_fs_t *req, const char *path)
{
    mnode *d;
    struct dirent **ents;
    int r = lookup(m, path, 1, &d);
    size_t i;

    req->nbufs = 0;
    if (r < 0)
        return r;
    if (!S_ISDIR(d->mode))
        return UV_ENOTDIR;
    if (d->nents == 0)
        return 0;
    /* malloc: libuv's uv_fs_scandir_next and uv_fs_req_cleanup free these with its allocator */
    ents = malloc(d->nents * sizeof(*ents));
    for (i = 0; i < d->nents; i++) {
        ents[i] = calloc(1, sizeof(struct dirent));
        snprintf(ents[i]->d_name, sizeof(ents[i]->d_name), "%s", d->ents[i].name);
        ents[i]->d_type = dtype(d->ents[i].node);
        ents[i]->d_ino = d->ents[i].node->ino;
    }
    req->ptr = ents;
    return (ssize_t)d->nents;
}

static ssize_t op_opendir(struct ah__memfs *m, uv_fs_t *req, const ah__fsop *o)
{
    mnode *d;
    mdir *s;
    uv_dir_t *dir;
    int r = lookup(m, o->path, 1, &d);
    size_t i;
    char abs[AH__FS_PATH_MAX];

    if (r < 0)
        return r;
    if (!S_ISDIR(d->mode))
        return UV_ENOTDIR;
    s = ah__calloc(1, sizeof(*s));
    s->node = d;
    s->n = d->nents;
    s->names = ah__calloc(d->nents + 1, sizeof(char *));
    s->types = ah__calloc(d->nents + 1, 1);
    for (i = 0; i < d->nents; i++) {
        s->names[i] = ah__strdup(d->ents[i].name);
        s->types[i] = dtype(d->ents[i].node);
    }
    ah__fs_normalize("/", o->path, abs, sizeof(abs));
    s->path = ah__strdup(abs);
    s->site = o->site;
    s->open_ns = m->sim->clock.now_ns;
    ah__list_insert_tail(&m->dirs, &s->link);
    dir = malloc(sizeof(*dir));
    memset(dir, 0, sizeof(*dir));
    dir->dir = (DIR *)(void *)s;
    req->ptr = dir;
    return 0;
}

static uv_dirent_type_t uv_type(unsigned char t)
{
    return t == DT_DIR ? UV_DIRENT_DIR : t == DT_LNK ? UV_DIRENT_LINK : UV_DIRENT_FILE;
}

static ssize_t op_readdir(const ah__fsop *o)
{
    mdir *s = (mdir *)(void *)o->dir->dir;
    size_t k = 0;

    while (k < o->dir->nentries && s->next < s->n) {
        o->dir->dirents[k].name = strdup(s->names[s->next]);
        o->dir->dirents[k].type = uv_type(s->types[s->next]);
        s->next++;
        k++;
    }
    return (ssize_t)k;
}

static void mdir_free(mdir *s)
{
    size_t i;

    ah__list_remove(&s->link);
    for (i = 0; i < s->n; i++)
        ah__free(s->names[i]);
    ah__free(s->names);
    ah__free(s->types);
    ah__free(s->path);
    ah__free(s);
}

static ssize_t op_closedir(uv_fs_t *req, const ah__fsop *o)
{
    mdir_free((mdir *)(void *)o->dir->dir);
    free(o->dir);
    req->ptr = NULL;
    return 0;
}

/* uv__fs_to_timespec: libuv keeps microseconds. 1.41 fixed its rounding (1.40 went through
 * time * 1e6, which loses a microsecond for most fractions, and mishandled negative times). */
static uv_timespec_t to_timespec(double t)
{
    uv_timespec_t ts;

    ts.tv_sec = (long)t;
#if AH__UV_UTIME_ROUNDING_FIX
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    ts.tv_nsec -= ts.tv_nsec % 1000;
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000L;
        ts.tv_sec -= 1;
    }
#else
    ts.tv_nsec = (long)((uint64_t)(t * 1000000) % 1000000 * 1000);
#endif
    return ts;
}

static void set_times(mnode *n, double atime, double mtime)
{
    n->atim = to_timespec(atime);
    n->mtim = to_timespec(mtime);
}

static ssize_t op_copyfile(ah__fs *fs, struct ah__memfs *m, const ah__fsop *o)
{
    mnode *src, *dst;
    walk w;
    int r = lookup(m, o->path, 1, &src);

    if (r < 0)
        return r;
    if (S_ISDIR(src->mode))
        return UV_EISDIR;
    if ((r = resolve(m, o->new_path, 1, &w)) < 0)
        return r;
    if (w.node != NULL) {
        if (o->flags & UV_FS_COPYFILE_EXCL)
            return UV_EEXIST;
        if (S_ISDIR(w.node->mode))
            return UV_EISDIR;
        if (w.node == src)
            return 0;
        dst = w.node;
    } else if ((r = create(m, &w, S_IFREG | (src->mode & 07777), &dst)) < 0) {
        return r;
    }
    if (fs->has_capacity && src->size > dst->size) {
        uint64_t used = ah__memfs_used(m);
        if (used + (src->size - dst->size) > fs->capacity) {
            /* libuv removes the partial copy it made */
            if (w.node == NULL)
                ent_remove(m, w.parent, ent_find(w.parent, w.leaf, strlen(w.leaf)));
            return UV_ENOSPC;
        }
    }
    set_size(dst, src->size);
    if (src->size > 0)
        memcpy(dst->data, src->data, src->size);
    dst->mode = S_IFREG | (src->mode & 07777);
    node_touch(m, dst);
    return 0;
}

#if !AH__UV_SENDFILE_READS_AT_OFFSET
/* libuv 1.40 on Linux: copy_file_range(in_fd, NULL, out_fd, &in_offset, len), which copies from
 * the input's file position (it advances) to in_offset of the output (whose position stays).
 * Returns 1 and sets *r when that call decides, 0 when the kernel refuses it with EINVAL (the two
 * ranges of one file overlap) and libuv falls back to its read-and-write emulation, which does
 * what later versions do. */
static int sendfile_140(ah__fs *fs, struct ah__memfs *m, mfd *in, mfd *out, const ah__fsop *o,
                        ssize_t *r)
{
    uint64_t n = 0, to = (uint64_t)o->off;
    ah__fsop w;
    uv_buf_t b;

    if ((out->flags & O_ACCMODE) == O_RDONLY || (out->flags & O_APPEND)) {
        *r = UV_EBADF;
        return 1;
    }
    if (in->pos < in->node->size)
        n = in->node->size - in->pos < o->len ? in->node->size - in->pos : o->len;
    if (in->node == out->node && to + n > in->pos && to < in->pos + n)
        return 0;
    *r = 0;
    if (n == 0)
        return 1;
    b = uv_buf_init((char *)in->node->data + in->pos, (unsigned)n);
    memset(&w, 0, sizeof(w));
    w.file = o->file;
    w.bufs = &b;
    w.nbufs = 1;
    w.off = o->off;
    *r = op_write(fs, m, &w);
    if (*r > 0)
        in->pos += (uint64_t)*r;
    return 1;
}
#endif

static ssize_t op_sendfile(ah__fs *fs, struct ah__memfs *m, const ah__fsop *o)
{
    mfd *in = fd_get(m, o->in_fd), *out = fd_get(m, o->file);
    size_t n;
    ah__fsop w;
    uv_buf_t b;

    if (in == NULL || (in->flags & O_ACCMODE) == O_WRONLY)
        return UV_EBADF;
#if !AH__UV_SENDFILE_READS_AT_OFFSET
    {
        ssize_t r;
        if (out != NULL && o->off >= 0 && sendfile_140(fs, m, in, out, o, &r))
            return r;
    }
#endif
    if (o->off < 0 || (uint64_t)o->off >= in->node->size)
        return o->off < 0 ? UV_EINVAL : 0;
    n = in->node->size - (size_t)o->off;
    if (n > o->len)
        n = o->len;
    b = uv_buf_init((char *)in->node->data + o->off, (unsigned)n);
    if (out == NULL) {
        ssize_t r;
        if (ah__memfs_owns_fd(m, o->file))
            return UV_EBADF;
        r = write(o->file, b.base, b.len); /* a real descriptor (stdout) */
        return r < 0 ? UV_EIO : r;
    }
    memset(&w, 0, sizeof(w));
    w.file = o->file;
    w.bufs = &b;
    w.nbufs = 1;
    w.off = -1;
    return op_write(fs, m, &w);
}

static ssize_t op_statfs(struct ah__fs *fs, uv_fs_t *req, const char *path)
{
    mnode *n;
    uv_statfs_t *s;
    int r = lookup(fs->mem, path, 1, &n);
    uint64_t total = fs->has_capacity ? fs->capacity : (uint64_t)1 << 40;
    uint64_t used = ah__memfs_used(fs->mem);

    if (r < 0)
        return r;
    s = calloc(1, sizeof(*s));
    s->f_type = 0x01021994; /* TMPFS_MAGIC */
    s->f_bsize = 4096;
    s->f_blocks = total / 4096;
    s->f_bfree = s->f_bavail = (total > used ? total - used : 0) / 4096;
    s->f_files = 1u << 20;
    s->f_ffree = s->f_files - fs->mem->next_ino;
    req->ptr = s;
    return 0;
}

static ssize_t run(ah__fs *fs, uv_fs_t *req, const ah__fsop *o)
{
    struct ah__memfs *m = fs->mem;
    mnode *n;
    walk w;
    mfd *f;
    int r;

    switch (o->type) {
    case UV_FS_OPEN:
        return op_open(m, o, o->path);
    case UV_FS_CLOSE:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        fd_free(f);
        return 0;
    case UV_FS_READ:
        return op_read(fs, m, o);
    case UV_FS_WRITE:
        return op_write(fs, m, o);
    case UV_FS_SENDFILE:
        return op_sendfile(fs, m, o);
    case UV_FS_STAT:
    case UV_FS_LSTAT:
        if ((r = lookup(m, o->path, o->type == UV_FS_STAT, &n)) < 0)
            return r;
        fill_stat(n, &req->statbuf);
        return 0;
    case UV_FS_FSTAT:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        fill_stat(f->node, &req->statbuf);
        return 0;
    case UV_FS_FTRUNCATE:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        if ((f->flags & O_ACCMODE) == O_RDONLY || !S_ISREG(f->node->mode) || o->off < 0)
            return UV_EINVAL;
        set_size(f->node, (size_t)o->off);
        node_touch(m, f->node);
        return 0;
    case UV_FS_UTIME:
    case UV_FS_LUTIME:
        if ((r = lookup(m, o->path, o->type == UV_FS_UTIME, &n)) < 0)
            return r;
        set_times(n, o->atime, o->mtime);
        n->ctim = now_ts(m);
        return 0;
    case UV_FS_FUTIME:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        set_times(f->node, o->atime, o->mtime);
        f->node->ctim = now_ts(m);
        return 0;
    case UV_FS_ACCESS:
        if ((r = lookup(m, o->path, 1, &n)) < 0)
            return r;
        if ((o->flags & X_OK) && !S_ISDIR(n->mode) && !(n->mode & 0111))
            return UV_EACCES;
        return 0;
    case UV_FS_CHMOD:
        if ((r = lookup(m, o->path, 1, &n)) < 0)
            return r;
        n->mode = (n->mode & S_IFMT) | ((mode_t)o->mode & 07777);
        n->ctim = now_ts(m);
        return 0;
    case UV_FS_FCHMOD:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        f->node->mode = (f->node->mode & S_IFMT) | ((mode_t)o->mode & 07777);
        f->node->ctim = now_ts(m);
        return 0;
    case UV_FS_FSYNC:
    case UV_FS_FDATASYNC:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        if (S_ISREG(f->node->mode)) {
            n = f->node;
            n->durable = ah__realloc(n->durable, n->size ? n->size : 1);
            if (n->size > 0)
                memcpy(n->durable, n->data, n->size);
            n->durable_size = n->size;
        }
        return 0;
    case UV_FS_UNLINK:
        return op_unlink_rmdir(m, o->path, 0);
    case UV_FS_RMDIR:
        return op_unlink_rmdir(m, o->path, 1);
    case UV_FS_MKDIR:
        if ((r = resolve(m, o->path, 0, &w)) < 0)
            return r;
        if (w.node != NULL)
            return UV_EEXIST;
        return create(m, &w, S_IFDIR | ((mode_t)o->mode & 07777 & ~(mode_t)022), &n);
    case UV_FS_MKDTEMP:
    case UV_FS_MKSTEMP:
        return op_mktemp(m, req, o);
    case UV_FS_RENAME:
        return op_rename(m, o->path, o->new_path);
    case UV_FS_SCANDIR:
        return op_scandir(m, req, o->path);
    case UV_FS_LINK:
        if ((r = lookup(m, o->path, 0, &n)) < 0)
            return r;
        if (S_ISDIR(n->mode))
            return UV_EPERM;
        if ((r = resolve(m, o->new_path, 0, &w)) < 0)
            return r;
        if (w.node != NULL)
            return UV_EEXIST;
        if (!S_ISDIR(w.parent->mode))
            return UV_ENOTDIR;
        ent_add(m, w.parent, w.leaf, n);
        n->ctim = now_ts(m);
        return 0;
    case UV_FS_SYMLINK:
        if ((r = resolve(m, o->new_path, 0, &w)) < 0)
            return r;
        if (w.node != NULL)
            return UV_EEXIST;
        if ((r = create(m, &w, S_IFLNK | 0777, &n)) < 0)
            return r;
        n->size = strlen(o->path);
        n->data = (unsigned char *)ah__strdup(o->path);
        n->cap = n->size + 1;
        return 0;
    case UV_FS_READLINK:
        if ((r = lookup(m, o->path, 0, &n)) < 0)
            return r;
        if (!S_ISLNK(n->mode))
            return UV_EINVAL;
        req->ptr = strdup((const char *)n->data);
        return 0;
    case UV_FS_REALPATH: {
        char dir[AH__FS_PATH_MAX], out[AH__FS_PATH_MAX];
        if ((r = resolve(m, o->path, 1, &w)) < 0)
            return r;
        if (w.node == NULL)
            return UV_ENOENT;
        if (S_ISDIR(w.node->mode)) {
            path_of(w.node, out, sizeof(out));
        } else {
            path_of(w.parent, dir, sizeof(dir));
            join(out, sizeof(out), dir, w.leaf);
        }
        req->ptr = strdup(out);
        return 0;
    }
    case UV_FS_CHOWN:
    case UV_FS_LCHOWN:
        if ((r = lookup(m, o->path, o->type == UV_FS_CHOWN, &n)) < 0)
            return r;
        goto chown;
    case UV_FS_FCHOWN:
        if ((f = fd_get(m, o->file)) == NULL)
            return UV_EBADF;
        n = f->node;
    chown:
        if (o->uid != (uv_uid_t)-1)
            n->uid = o->uid;
        if (o->gid != (uv_gid_t)-1)
            n->gid = o->gid;
        n->ctim = now_ts(m);
        return 0;
    case UV_FS_COPYFILE:
        return op_copyfile(fs, m, o);
    case UV_FS_OPENDIR:
        return op_opendir(m, req, o);
    case UV_FS_READDIR:
        return op_readdir(o);
    case UV_FS_CLOSEDIR:
        return op_closedir(req, o);
    case UV_FS_STATFS:
        return op_statfs(fs, req, o->path);
    default:
        ah__fail(m->sim, "%s: not simulated on the in-memory file system", o->fn);
    }
}

void ah__memfs_run(ah__fs *fs, uv_fs_t *req, const ah__fsop *o)
{
    req->result = run(fs, req, o);
    if (req->result == 0 &&
        (o->type == UV_FS_STAT || o->type == UV_FS_LSTAT || o->type == UV_FS_FSTAT))
        req->ptr = &req->statbuf;
    if (o->type == UV_FS_READ || o->type == UV_FS_WRITE) {
        req->bufs = NULL;
        req->nbufs = 0;
    }
    if (o->type != UV_FS_MKDTEMP && o->type != UV_FS_MKSTEMP && o->path != NULL &&
        req->path == NULL && req->cb == NULL) {
        req->path = o->path; /* libuv's PATH for a synchronous call: the caller's string */
        req->new_path = o->new_path;
    }
}

/* ---- lifecycle, crash, checks, test helpers ---- */

struct ah__memfs *ah__memfs_new(ah_sim *sim)
{
    struct ah__memfs *m = ah__calloc(1, sizeof(*m));
    walk w;
    mnode *tmp;

    m->sim = sim;
    ah__list_init(&m->nodes);
    ah__list_init(&m->dirs);
    m->root = node_new(m, S_IFDIR | 0755);
    m->root->nlink = 2;
    resolve(m, "/tmp", 0, &w);
    create(m, &w, S_IFDIR | 01777, &tmp);
    return m;
}

void ah__memfs_free(struct ah__memfs *m)
{
    size_t i;

    while (!ah__list_empty(&m->dirs))
        mdir_free(ah__container_of(m->dirs.next, mdir, link));
    for (i = 0; i < m->nfds; i++)
        ah__free(m->fds[i].path);
    ah__free(m->fds);
    while (!ah__list_empty(&m->nodes)) {
        mnode *n = ah__container_of(m->nodes.next, mnode, link);
        ah__list_remove(&n->link);
        for (i = 0; i < n->nents; i++)
            ah__free(n->ents[i].name);
        ah__free(n->ents);
        ah__free(n->data);
        ah__free(n->durable);
        ah__free(n);
    }
    ah__free(m);
}

void ah__memfs_crash(struct ah__memfs *m)
{
    ah__list *q;
    size_t i;

    for (i = 0; i < m->nfds; i++)
        if (m->fds[i].node != NULL)
            fd_free(&m->fds[i]);
    for (q = m->nodes.next; q != &m->nodes; q = q->next) {
        mnode *n = ah__container_of(q, mnode, link);
        if (!S_ISREG(n->mode))
            continue;
        set_size(n, n->durable_size);
        if (n->durable_size > 0)
            memcpy(n->data, n->durable, n->durable_size);
    }
}

void ah__memfs_check(struct ah__memfs *m, ah__buf *b)
{
    ah__list *q;
    size_t i;
    char s[160];

    for (i = 0; i < m->nfds; i++)
        if (m->fds[i].node != NULL)
            ah__buf_printf(b,
                           "  - file left open (leaked descriptor): fd %d (%s) opened in %s at "
                           "+%llu ms was never closed with uv_fs_close\n",
                           AH__FS_FD_BASE + (int)i, m->fds[i].path,
                           ah__site_str(&m->fds[i].site, s, sizeof(s)),
                           (unsigned long long)ah__rel_ms(m->sim, m->fds[i].open_ns));
    for (q = m->dirs.next; q != &m->dirs; q = q->next) {
        mdir *d = ah__container_of(q, mdir, link);
        ah__buf_printf(b,
                       "  - directory stream left open (leak): %s opened by uv_fs_opendir in %s "
                       "at +%llu ms was never closed with uv_fs_closedir\n",
                       d->path, ah__site_str(&d->site, s, sizeof(s)),
                       (unsigned long long)ah__rel_ms(m->sim, d->open_ns));
    }
}

int ah__memfs_put(struct ah__memfs *m, const char *path, const void *data, size_t n)
{
    walk w;
    mnode *node;
    int r = resolve(m, path, 1, &w);

    if (r < 0)
        return r;
    if (w.node == NULL) {
        if ((r = create(m, &w, S_IFREG | 0644, &node)) < 0)
            return r;
    } else if (S_ISDIR(w.node->mode)) {
        return UV_EISDIR;
    } else {
        node = w.node;
    }
    set_size(node, n);
    if (n > 0)
        memcpy(node->data, data, n);
    node->durable = ah__realloc(node->durable, n ? n : 1);
    if (n > 0)
        memcpy(node->durable, data, n);
    node->durable_size = n;
    node_touch(m, node);
    return 0;
}

ssize_t ah__memfs_get(struct ah__memfs *m, const char *path, void *buf, size_t cap)
{
    mnode *n;
    int r = lookup(m, path, 1, &n);

    if (r < 0)
        return r;
    if (S_ISDIR(n->mode))
        return UV_EISDIR;
    if (buf != NULL && cap > 0 && n->size > 0) /* an empty file has no data block */
        memcpy(buf, n->data, n->size < cap ? n->size : cap);
    return (ssize_t)n->size;
}
