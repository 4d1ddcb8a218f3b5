/* kvclient-cli: runs Redis commands through kvclient and prints the replies as redis-cli does.
 * Exit status: 0 all replies were not errors, 1 an error reply, 2 a transport or usage error. */
#include "kvclient.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_KEY "pipe:counter"

struct cmd {
    int argc;
    char **argv;
};

struct cli {
    const char *host;
    int port;
    kv_client *client;
    unsigned remaining; /* callbacks still due */
    int rc;
    int transport_error; /* printed once: the same cause fails every command */
    int pipeline;        /* pipeline mode: print only the last INCR value */
    long long last;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kvclient-cli [-h host] [-p port] [-t timeout_ms] [-r retries] CMD [ARG...]"
               " [-- CMD [ARG...]]...\n"
               "       kvclient-cli [options] --pipeline N   (DEL " PIPE_KEY
               ", then N pipelined INCR; prints the last)\n"
               "       kvclient-cli [options] --script FILE  (one command a line, pipelined)\n"
               "Defaults: -h 127.0.0.1 -p 6379 -t 1000 -r 0 (no reconnect attempts).\n"
               "Exit status: 0 ok, 1 an error reply, 2 a connection/timeout/usage error.\n");
}

static void print_reply(const kv_reply *r, int indent)
{
    size_t i;
    int w;

    switch (r->type) {
    case KV_REPLY_STATUS:
    case KV_REPLY_STRING:
        fwrite(r->str, 1, r->len, stdout);
        putchar('\n');
        break;
    case KV_REPLY_ERROR:
        printf("(error) %s\n", r->str);
        break;
    case KV_REPLY_INTEGER:
        printf("(integer) %lld\n", r->integer);
        break;
    case KV_REPLY_NIL:
        printf("(nil)\n");
        break;
    case KV_REPLY_ARRAY:
        if (r->elements == 0)
            printf("(empty array)\n");
        for (i = 0; i < r->elements; i++) {
            if (i > 0)
                printf("%*s", indent, "");
            w = printf("%zu) ", i + 1);
            print_reply(r->element[i], indent + w);
        }
        break;
    }
}

static void done_one(struct cli *cli)
{
    if (--cli->remaining == 0)
        kv_close(cli->client, NULL, NULL);
}

static void reply_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    struct cli *cli = data;

    (void)req;
    if (status < 0) {
        if (!cli->transport_error)
            fprintf(stderr, "kvclient-cli: %s:%d: %s (%s)\n", cli->host, cli->port,
                    uv_strerror(status), uv_err_name(status));
        cli->transport_error = 1;
        cli->rc = 2;
    } else if (reply->type == KV_REPLY_ERROR) {
        if (cli->rc == 0)
            cli->rc = 1;
        if (!cli->pipeline || cli->remaining == 1)
            print_reply(reply, 0);
    } else if (cli->pipeline) {
        if (reply->type == KV_REPLY_INTEGER)
            cli->last = reply->integer;
        if (cli->remaining == 1)
            printf("(integer) %lld\n", cli->last);
    } else {
        print_reply(reply, 0);
    }
    done_one(cli);
}

/* A command that could not be issued gets no callback: count it done here. */
static void issued(struct cli *cli, kv_req *req)
{
    if (req != NULL)
        return;
    fprintf(stderr, "kvclient-cli: out of memory\n");
    cli->rc = 2;
    done_one(cli);
}

/* Splits a script line into words; "double quotes" group words and know \n \r \t \" \\. */
static int split_line(char *line, struct cmd *out)
{
    char *p = line, *w;
    int cap = 8;

    out->argc = 0;
    out->argv = malloc((size_t)cap * sizeof(char *));
    if (out->argv == NULL)
        return -1;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0' || (*p == '#' && out->argc == 0))
            return 0;
        if (out->argc == cap) {
            char **a = realloc(out->argv, (size_t)(cap *= 2) * sizeof(char *));
            if (a == NULL)
                return -1;
            out->argv = a;
        }
        w = p;
        out->argv[out->argc++] = w;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0')
                    return -1;
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                    *w++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
                } else {
                    *w++ = *p;
                }
            }
            p++;
            if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                return -1;
        } else {
            while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                *w++ = *p++;
        }
        if (*p != '\0')
            p++;
        *w = '\0';
    }
}

/* Reads a script into cmds; the words point into *text. Returns the number of commands or -1. */
static int read_script(const char *path, char **text, struct cmd **cmds)
{
    FILE *f = fopen(path, "rb");
    size_t len = 0, cap = 4096, n;
    char *line;
    int count = 0, ncap = 16;

    *text = NULL;
    *cmds = NULL;
    if (f == NULL) {
        perror(path);
        return -1;
    }
    *text = malloc(cap + 1);
    while (*text != NULL && (n = fread(*text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *t = realloc(*text, (cap *= 2) + 1);
            if (t == NULL)
                free(*text);
            *text = t;
        }
    }
    fclose(f);
    *cmds = malloc((size_t)ncap * sizeof(**cmds));
    if (*text == NULL || *cmds == NULL)
        return -1;
    (*text)[len] = '\0';
    for (line = strtok(*text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (count == ncap) {
            struct cmd *m = realloc(*cmds, (size_t)(ncap *= 2) * sizeof(**cmds));
            if (m == NULL)
                return -1;
            *cmds = m;
        }
        if (split_line(line, &(*cmds)[count]) != 0) {
            free((*cmds)[count].argv);
            fprintf(stderr, "kvclient-cli: %s: bad line: %s\n", path, line);
            return -1;
        }
        if ((*cmds)[count].argc == 0)
            free((*cmds)[count].argv);
        else
            count++;
    }
    return count;
}

static long parse_num(const char *s, const char *what, long min, long max)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "kvclient-cli: bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"pipeline", required_argument, NULL, 'P'},
                                             {"script", required_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'H'},
                                             {NULL, 0, NULL, 0}};
    struct cli cli = {.host = "127.0.0.1", .port = 6379};
    kv_opts opts = {.max_retries = KV_NO_RETRIES};
    const char *script = NULL;
    struct cmd *cmds = NULL;
    char *text = NULL;
    long pipeline = 0;
    int ncmds = 0, opt, i, start, ok = 1;
    uv_loop_t loop;

    while ((opt = getopt_long(argc, argv, "+h:p:t:r:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            cli.host = optarg;
            break;
        case 'p':
            cli.port = (int)parse_num(optarg, "port", 1, 65535);
            break;
        case 't':
            opts.timeout_ms = (uint64_t)parse_num(optarg, "timeout", 1, 86400000);
            break;
        case 'r':
            opts.max_retries = (unsigned)parse_num(optarg, "retries", 0, 1000);
            if (opts.max_retries == 0)
                opts.max_retries = KV_NO_RETRIES;
            break;
        case 'P':
            pipeline = parse_num(optarg, "pipeline count", 1, 10000000);
            break;
        case 'S':
            script = optarg;
            break;
        case 'H':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    if (script != NULL) {
        ncmds = read_script(script, &text, &cmds);
        if (ncmds < 0)
            ok = 0;
    } else if (optind < argc) {
        cmds = malloc((size_t)(argc - optind) * sizeof(*cmds));
        if (cmds == NULL)
            return 2;
        for (start = i = optind; i <= argc; i++) {
            if (i == argc || strcmp(argv[i], "--") == 0) {
                if (i > start) {
                    cmds[ncmds].argc = i - start;
                    cmds[ncmds].argv = argv + start;
                    ncmds++;
                }
                start = i + 1;
            }
        }
    }
    if (ok && ncmds == 0 && pipeline == 0) {
        usage(stderr);
        ok = 0;
    }
    if (!ok) {
        if (text != NULL)
            for (i = 0; i < ncmds; i++)
                free(cmds[i].argv);
        free(cmds);
        free(text);
        return 2;
    }

    if (uv_loop_init(&loop) != 0)
        return 2;
    cli.client = kv_new(&loop, cli.host, cli.port, &opts);
    if (cli.client == NULL) {
        fprintf(stderr, "kvclient-cli: cannot create a client for %s:%d\n", cli.host, cli.port);
        return 2;
    }
    if (pipeline > 0) {
        cli.pipeline = 1;
        cli.remaining = (unsigned)pipeline + 1;
        issued(&cli, kv_del(cli.client, PIPE_KEY, reply_cb, &cli));
        for (i = 0; i < pipeline; i++)
            issued(&cli, kv_incr(cli.client, PIPE_KEY, reply_cb, &cli));
    } else {
        cli.remaining = (unsigned)ncmds;
        for (i = 0; i < ncmds; i++)
            issued(&cli, kv_command(cli.client, cmds[i].argc, (const char **)cmds[i].argv, NULL,
                                    reply_cb, &cli));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "kvclient-cli: handles left open at exit\n");
        cli.rc = 2;
    }
    if (text != NULL)
        for (i = 0; i < ncmds; i++)
            free(cmds[i].argv);
    free(cmds);
    free(text);
    return cli.rc;
}
