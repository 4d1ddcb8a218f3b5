/* The layer's per-sim state (its teardown check and its end), the fault rules, and paths: what
 * fs.c, memfs.c and watch.c all use. It calls none of them: the memory file system and the
 * watchers it frees and checks are reached through ah__fs_hooks, which fs.c and watch.c fill when
 * they make them. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int fs_key;

ah__fs_hooks_t ah__fs_hooks;

/* ---- per-sim state ---- */

void ah__fs_rules_free(ah__fs *fs)
{
    while (!ah__list_empty(&fs->rules)) {
        ah__fsrule *r = ah__container_of(fs->rules.next, ah__fsrule, link);
        ah__list_remove(&r->link);
        ah__free(r->path);
        ah__free(r);
    }
}

static void fs_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__fs *fs = state;
    ah__list *q;
    char s[160];

    for (q = fs->leaks.next; q != &fs->leaks; q = q->next) {
        ah__fsleak *l = ah__container_of(q, ah__fsleak, link);
        ah__buf_printf(b,
                       "  - uv_fs_t (%p) of %s started in %s was never cleaned up: its callback "
                       "or result came at +%llu ms and uv_fs_req_cleanup was not called (libuv "
                       "leaks what the request holds)\n",
                       (const void *)l->req, l->fn, ah__site_str(&l->site, s, sizeof(s)),
                       (unsigned long long)ah__rel_ms(sim, l->done_ns));
    }
    if (fs->mem != NULL && ah__fs_hooks.mem_check != NULL)
        ah__fs_hooks.mem_check(fs->mem, b);
    if (ah__fs_hooks.watch_check != NULL)
        ah__fs_hooks.watch_check(fs, b);
}

static void fs_destroy(ah_sim *sim, void *state)
{
    ah__fs *fs = state;

    (void)sim;
    ah__fs_rules_free(fs);
    while (!ah__list_empty(&fs->leaks)) {
        ah__list *q = fs->leaks.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__fsleak, link));
    }
    while (!ah__list_empty(&fs->realfds)) {
        ah__fsfd *f = ah__container_of(fs->realfds.next, ah__fsfd, link);
        ah__list_remove(&f->link);
        ah__free(f->path);
        ah__free(f);
    }
    while (!ah__list_empty(&fs->asyncs)) {
        ah__fsasync *a = ah__container_of(fs->asyncs.next, ah__fsasync, link);
        ah__list_remove(&a->link);
        ah__free(a->bufs_copy);
        ah__free(a);
    }
    if (ah__fs_hooks.watch_free_all != NULL)
        ah__fs_hooks.watch_free_all(fs);
    if (fs->mem != NULL && ah__fs_hooks.mem_free != NULL)
        ah__fs_hooks.mem_free(fs->mem);
    ah__free(fs);
}

ah__fs *ah__fs_find(ah_sim *sim) { return ah__ext_get(sim, &fs_key); }

static void fs_init(ah_sim *sim, void *state)
{
    ah__fs *fs = state;

    fs->sim = sim;
    ah__list_init(&fs->rules);
    ah__list_init(&fs->leaks);
    ah__list_init(&fs->realfds);
    ah__list_init(&fs->watchers);
    ah__list_init(&fs->polls);
    ah__list_init(&fs->asyncs);
}

ah__fs *ah__fs_get(ah_sim *sim)
{
    static const ah__ext fs_ext = {
        .key = &fs_key, .name = "fs", .check = fs_check, .destroy = fs_destroy, .init = fs_init};

    return ah__ext_get_or_add(sim, &fs_ext, sizeof(ah__fs));
}

/* ---- paths ---- */

void ah__fs_normalize(const char *cwd, const char *path, char *out, size_t n)
{
    char tmp[AH__FS_PATH_MAX];
    size_t len = 0;
    const char *p, *e;

    if (path[0] == '/')
        snprintf(tmp, sizeof(tmp), "%s", path);
    else
        snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
    out[0] = '\0';
    for (p = tmp; *p != '\0'; p = e) {
        while (*p == '/')
            p++;
        for (e = p; *e != '\0' && *e != '/'; e++)
            ;
        if (e == p || (e - p == 1 && p[0] == '.'))
            continue;
        if (e - p == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            out[len] = '\0';
            continue;
        }
        if (len + 1 + (size_t)(e - p) + 1 > n)
            break;
        out[len++] = '/';
        memcpy(out + len, p, (size_t)(e - p));
        len += (size_t)(e - p);
        out[len] = '\0';
    }
    if (len == 0)
        snprintf(out, n, "/");
}

int ah__fs_under(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);

    if (strcmp(prefix, "/") == 0)
        return 1;
    return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

ah__fsrule *ah__fs_rule(ah__fs *fs, int kind, uv_fs_type op, const char *abs)
{
    ah__list *q;

    for (q = fs->rules.next; q != &fs->rules; q = q->next) {
        ah__fsrule *r = ah__container_of(q, ah__fsrule, link);
        if (r->kind != kind || (r->op != UV_FS_UNKNOWN && r->op != op))
            continue;
        if (r->path != NULL && (abs == NULL || !ah__fs_under(r->path, abs)))
            continue;
        return r;
    }
    return NULL;
}
