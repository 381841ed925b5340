/* The ONNX Runtime peer (peer_ort.h): node on a socket pair (send with
 * MSG_NOSIGNAL, so a node that died is a failed request, not a SIGPIPE), and
 * a temporary directory holding the weights, the input and the output. */
#include "cli/peer_ort.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct ort_peer {
  pid_t pid;
  int fd;        /* our end of the socket pair */
  FILE *replies; /* the same socket, read by line */
  char dir[64];  /* weights.bin, model.onnx, in.bin, out.bin */
  char *version;
  char line[512]; /* the last reply */
  char failed[512];
};

static bool write_file(const char *path, const float *data, size_t count) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(data, sizeof(float), count, f) == count;
  return fclose(f) == 0 && ok;
}

static void path_in(const ort_peer *p, const char *name, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", p->dir, name);
}

/* Sends one request line; on the reply "ok REST" returns REST (valid until
 * the next request), else NULL with why in p->failed. */
static const char *request(ort_peer *p, const char *line) {
  if (p->failed[0]) return NULL;
  for (size_t sent = 0, n = strlen(line); sent < n;) {
    ssize_t k = send(p->fd, line + sent, n - sent, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      snprintf(p->failed, sizeof p->failed, "node stopped reading (%s)", strerror(errno));
      return NULL;
    }
    sent += (size_t)k;
  }
  char *buf = p->line;
  if (!fgets(buf, sizeof p->line, p->replies)) {
    snprintf(p->failed, sizeof p->failed, "node exited");
    return NULL;
  }
  buf[strcspn(buf, "\n")] = 0;
  if (strncmp(buf, "ok", 2)) {
    snprintf(p->failed, sizeof p->failed, "%s", strncmp(buf, "error ", 6) ? buf : buf + 6);
    return NULL;
  }
  return buf[2] ? buf + 3 : "";
}

/* Starts node on the script; false with the reason. */
static bool spawn_node(ort_peer *p, const char *script, const char *export, int threads, char *why, size_t len) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
    snprintf(why, len, "socketpair: %s", strerror(errno));
    return false;
  }
  fcntl(sv[0], F_SETFD, FD_CLOEXEC);
  char nthreads[16];
  snprintf(nthreads, sizeof nthreads, "%d", threads);
  char *argv[] = {"node", (char *)script, (char *)export, p->dir, nthreads, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  posix_spawn_file_actions_addclose(&fa, sv[1]);
  int err = posix_spawnp(&p->pid, "node", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(sv[1]);
  if (err) {
    close(sv[0]);
    p->pid = 0;
    if (err == ENOENT) snprintf(why, len, "no node (apt-get install nodejs npm)");
    else snprintf(why, len, "cannot start node: %s", strerror(err));
    return false;
  }
  p->fd = sv[0];
  int rfd = dup(sv[0]);
  if (rfd >= 0) fcntl(rfd, F_SETFD, FD_CLOEXEC);
  if (rfd < 0 || !(p->replies = fdopen(rfd, "r"))) {
    if (rfd >= 0) close(rfd);
    snprintf(why, len, "cannot read from node: %s", strerror(errno));
    return false;
  }
  return true;
}

ort_peer *ort_open(const char *model, bool own, const float *weights, size_t count, int threads, char *why,
                   size_t len) {
  const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
  int stem = (int)(strrchr(base, '.') ? (size_t)(strrchr(base, '.') - base) : strlen(base));
  char export[4096], script[4096];
  if (own) snprintf(export, sizeof export, "%s", model);
  else snprintf(export, sizeof export, "%s/bench/onnx/%.*s.onnx", ACTJIT_SOURCE_DIR, stem, base);
  snprintf(script, sizeof script, "%s/bench/ort_bench.js", ACTJIT_SOURCE_DIR);
  if (!own && access(export, R_OK)) {
    snprintf(why, len, "no ONNX export bench/onnx/%.*s.onnx (bench/onnx_export.py makes it)", stem, base);
    return NULL;
  }
  if (access(script, R_OK)) {
    snprintf(why, len, "no %s", script);
    return NULL;
  }
  ort_peer *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(why, len, "out of memory");
    return NULL;
  }
  p->fd = -1;
  snprintf(p->dir, sizeof p->dir, "%s", "/tmp/actjit-ort-XXXXXX");
  char path[128];
  bool ok = mkdtemp(p->dir) != NULL;
  if (!ok) {
    snprintf(why, len, "cannot make a directory for ONNX Runtime's files: %s", strerror(errno));
    p->dir[0] = 0;
  }
  path_in(p, "weights.bin", path, sizeof path);
  if (ok && !own && !(ok = write_file(path, weights, count))) snprintf(why, len, "cannot write %s", path);
  if (ok) ok = spawn_node(p, script, export, threads, why, len);
  const char *version = ok ? request(p, "") : NULL; /* node's first line */
  if (ok && !version) snprintf(why, len, "%s", p->failed);
  if (version && !(p->version = strdup(version))) snprintf(why, len, "out of memory");
  if (!p->version) {
    ort_close(p);
    return NULL;
  }
  return p;
}

const char *ort_version(const ort_peer *p) { return p->version; }

int ort_prepare(ort_peer *p, int rank, const int64_t *dims, const float *in, size_t nin, float *out, size_t nout,
                char *why, size_t len) {
  char path[128], line[256];
  path_in(p, "in.bin", path, sizeof path);
  if (!write_file(path, in, nin)) {
    snprintf(why, len, "cannot write %s", path);
    return -1;
  }
  int k = snprintf(line, sizeof line, "input");
  for (int d = 0; d < rank; d++) k += snprintf(line + k, sizeof line - (size_t)k, " %lld", (long long)dims[d]);
  snprintf(line + k, sizeof line - (size_t)k, "\n");
  const char *reply = request(p, line);
  if (!reply) {
    snprintf(why, len, "ONNX Runtime failed: %s", p->failed);
    return -1;
  }
  if (strtoull(reply, NULL, 10) != nout) {
    snprintf(why, len, "ONNX Runtime's output has %s floats, not %zu", reply, nout);
    return -1;
  }
  path_in(p, "out.bin", path, sizeof path);
  FILE *f = fopen(path, "rb");
  bool ok = f && fread(out, sizeof(float), nout, f) == nout;
  if (f) fclose(f);
  if (!ok) snprintf(why, len, "cannot read %s", path);
  return ok ? 0 : -1;
}

static double timed_request(ort_peer *p, const char *line) {
  const char *reply = request(p, line);
  return reply ? strtod(reply, NULL) : NAN;
}

double ort_time_model(void *p, int iters) {
  char line[64];
  snprintf(line, sizeof line, "time model %d\n", iters);
  return timed_request(p, line);
}

double ort_time_identity(void *p, int iters) {
  char line[64];
  snprintf(line, sizeof line, "time identity %d\n", iters);
  return timed_request(p, line);
}

double ort_profile(ort_peer *p, int reps) {
  char line[64];
  snprintf(line, sizeof line, "profile %d\n", reps);
  return timed_request(p, line);
}

const char *ort_failed(const ort_peer *p) { return p->failed[0] ? p->failed : NULL; }

void ort_close(ort_peer *p) {
  if (!p) return;
  if (p->fd >= 0) {
    send(p->fd, "quit\n", 5, MSG_NOSIGNAL);
    close(p->fd);
  }
  if (p->replies) fclose(p->replies);
  if (p->pid > 0) waitpid(p->pid, NULL, 0);
  DIR *d = p->dir[0] ? opendir(p->dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", p->dir, e->d_name);
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(path);
  }
  if (d) closedir(d), rmdir(p->dir);
  free(p->version);
  free(p);
}
