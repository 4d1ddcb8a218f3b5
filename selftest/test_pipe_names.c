/* Unix-domain pipes as Linux has them: a connect to a listening path is connected inside
 * uv_pipe_connect (decision 140), abstract names and autobind (decision 141, libuv >= 1.46 and
 * 1.49), uv_pipe_chmod's socket file (decision 143), and the sim's sockets counted against
 * RLIMIT_NOFILE when a connection arrives (decision 142); abstract names on sockets made with
 * socket(2) and bound with bind(2) (decision 146, libuv's 1.40/1.44 pipe_getsockname_abstract). */
#include <ah/ah.h>

#include <cmocka.h>
#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static uv_pipe_t server, client, sconn;
static uv_connect_t creq;
static int connections, connect_status = 1;

static void on_connection(uv_stream_t *s, int status)
{
    assert_int_equal(status, 0);
    connections++;
    uv_pipe_init(s->loop, &sconn, 0);
    assert_int_equal(uv_accept(s, (uv_stream_t *)&sconn), 0);
    uv_close((uv_handle_t *)&sconn, NULL);
}

static void on_connect(uv_connect_t *req, int status)
{
    (void)req;
    connect_status = status;
}

static void listen_on(const char *path)
{
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, path), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
}

static void a_pipe_connect_is_connected_at_once(void **state)
{
    ah_sim *sim = *state;
    char name[64];
    size_t len = sizeof(name);

    connections = 0;
    connect_status = 1;
    listen_on("/tmp/ah-names.sock");
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, "/tmp/ah-names.sock", on_connect);
    assert_int_equal(uv_pipe_getpeername(&client, name, &len), 0);
    assert_int_equal(len, strlen("/tmp/ah-names.sock"));
    assert_memory_equal(name, "/tmp/ah-names.sock", len);
    /* Closed before the loop ran: the connection is in the backlog all the same. */
    uv_close((uv_handle_t *)&client, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(connect_status, UV_ECANCELED);
    assert_int_equal(connections, 1);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void nobody_listening_is_not_connected(void **state)
{
    ah_sim *sim = *state;
    char name[64];
    size_t len = sizeof(name);

    connect_status = 1;
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, "/tmp/ah-names.sock"), 0); /* bound, not listening */
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, "/tmp/ah-names.sock", on_connect);
    assert_int_equal(uv_pipe_getpeername(&client, name, &len), UV_ENOTCONN);
    ah_run_until_idle(sim);
    assert_int_equal(connect_status, UV_ECONNREFUSED);
    uv_close((uv_handle_t *)&client, NULL);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void chmod_makes_the_socket_file(void **state)
{
    ah_sim *sim = *state;
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/tmp/ah-names-%d.sock", (int)getpid());
    unlink(path);
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_chmod(&server, UV_READABLE), UV_EBADF); /* not bound */
    assert_int_equal(uv_pipe_bind(&server, path), 0);
    assert_int_not_equal(stat(path, &st), 0); /* binding alone makes no file */
    assert_int_equal(uv_pipe_chmod(&server, 12345), UV_EINVAL);
    assert_int_equal(uv_pipe_chmod(&server, UV_READABLE | UV_WRITABLE), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_true((st.st_mode & 0666) == 0666);
    uv_close((uv_handle_t *)&server, NULL);
    assert_int_equal(uv_pipe_chmod(&server, UV_READABLE), UV_EBADF);
    ah_run_until_idle(sim);
    assert_int_not_equal(stat(path, &st), 0); /* the close unlinked it */

    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, path, on_connect); /* an unnamed socket */
    assert_int_equal(uv_pipe_chmod(&client, UV_READABLE), UV_ENOENT);
    uv_close((uv_handle_t *)&client, NULL);
    ah_run_until_idle(sim);
}

#if UV_VERSION_HEX >= 0x012e00
static void abstract_names(void **state)
{
    ah_sim *sim = *state;
    static const char name[] = "\0ah-abstract";
    char buf[64];
    size_t len = sizeof(buf);

    connections = 0;
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind2(&server, name, sizeof(name) - 1, 0), 0);
    assert_null(server.pipe_fname);
    assert_int_equal(uv_pipe_getsockname(&server, buf, &len), 0);
    assert_int_equal(len, sizeof(name) - 1);
    assert_memory_equal(buf, name, len);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
    uv_pipe_init(uv_default_loop(), &client, 0);
    /* The same text as a path is another name. */
    uv_pipe_connect(&creq, &client, "@ah-abstract", on_connect);
    ah_run_until_idle(sim);
    assert_int_equal(connect_status, UV_ENOENT);
    uv_close((uv_handle_t *)&client, NULL);
    ah_run_until_idle(sim); /* its close callback before the handle is made again */
    uv_pipe_init(uv_default_loop(), &client, 0);
    assert_int_equal(uv_pipe_connect2(&creq, &client, name, sizeof(name) - 1, 0, on_connect), 0);
    len = sizeof(buf);
    assert_int_equal(uv_pipe_getpeername(&client, buf, &len), 0);
    assert_memory_equal(buf, name, sizeof(name) - 1);
    ah_run_until_idle(sim);
    assert_int_equal(connect_status, 0);
    assert_int_equal(connections, 1);
    uv_close((uv_handle_t *)&client, NULL);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}
#endif

#if UV_VERSION_HEX >= 0x013100
static void autobind_counts_from_zero(void **state)
{
    ah_sim *sim = *state;
    char buf[16];
    size_t len = sizeof(buf);

    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind2(&server, "", 0, 0), 0);
    assert_int_equal(uv_pipe_getsockname(&server, buf, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "\00000000", 6);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}
#endif

/* libuv's 1.40/1.44 form of pipe_getsockname_abstract: the name given to bind(2) with the whole
 * struct's length (sun_path's trailing zeros), the socket then adopted by uv_pipe_open. */
static void raw_abstract_names(void **state)
{
    ah_sim *sim = *state;
    static const char name[] = "\0ah-raw";
    struct sockaddr_un sun, got;
    socklen_t len;
    char big[sizeof(sun.sun_path) + 1];
    size_t size;
    int fd, cfd;

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, sizeof(name));
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    len = sizeof(got);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&got, &len), 0);
    /* Linux keeps sun_path's zeros in the name: the whole length comes back. */
    assert_int_equal(len, sizeof(sun));
    assert_memory_equal(got.sun_path, sun.sun_path, sizeof(sun.sun_path));
    assert_int_equal(listen(fd, 8), 0);

    /* The same text as a path is another name; an abstract name nobody bound is refused. */
    cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(sun.sun_path, "@ah-raw", sizeof("@ah-raw"));
    assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), -1);
    assert_int_equal(errno, ENOENT);
    memcpy(sun.sun_path, "\0ah-none", sizeof("\0ah-none"));
    assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    /* The name as bound, with its zeros, reaches it. */
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, sizeof(name));
    assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    len = sizeof(got);
    assert_int_equal(getpeername(cfd, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(len, sizeof(sun));
    assert_memory_equal(got.sun_path, sun.sun_path, sizeof(sun.sun_path));
    close(cfd);
    close(fd);

    /* libuv's test: a bound socket, not listening, adopted by uv_pipe_open. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_open(&server, fd), 0);
    memset(big, 'x', sizeof(big));
    size = sizeof(sun.sun_path) + 1;
    assert_int_equal(uv_pipe_getsockname(&server, big, &size), 0);
    assert_int_equal(size, sizeof(sun.sun_path));
    assert_memory_equal(big, sun.sun_path, size);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static size_t open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the folder's own */
}

/* The listener and the connecting client hold a descriptor each: with the real ones, a limit
 * that leaves none for the accept drops the connection (libuv's EMFILE trick), one more lets
 * it through. */
static void sim_sockets_count_against_the_limit(void **state)
{
    ah_sim *sim = *state;
    struct rlimit old, lim;
    int spare;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    for (spare = 0; spare <= 1; spare++) {
        connections = 0;
        connect_status = 1;
        listen_on("/tmp/ah-names.sock");
        uv_pipe_init(uv_default_loop(), &client, 0);
        uv_pipe_connect(&creq, &client, "/tmp/ah-names.sock", on_connect);
        lim = old;
        lim.rlim_cur = open_descriptors() + 2 + (rlim_t)spare;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
        ah_run_until_idle(sim);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        assert_int_equal(connect_status, 0);
        assert_int_equal(connections, spare);
        uv_close((uv_handle_t *)&client, NULL);
        uv_close((uv_handle_t *)&server, NULL);
        ah_run_until_idle(sim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_pipe_connect_is_connected_at_once),
        ah_unit_test(nobody_listening_is_not_connected),
        ah_unit_test(chmod_makes_the_socket_file),
#if UV_VERSION_HEX >= 0x012e00
        ah_unit_test(abstract_names),
#endif
#if UV_VERSION_HEX >= 0x013100
        ah_unit_test(autobind_counts_from_zero),
#endif
        ah_unit_test(sim_sockets_count_against_the_limit),
        ah_unit_test(raw_abstract_names),
    };
    return ah_run_tests(tests);
}
