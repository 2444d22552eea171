/* SPDX-License-Identifier: BSD-3-Clause */
#include "proto/schedfile.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/iface.h"
#include "proto/pmixrec.h"

int schedfile_write(const char *path, const schedfile *sf)
{
    int rc = 0, fd = -1;
    char tmp[4096], keyhex[2 * AUTH_KEY_LEN + 1];
    const int pmix = pmixrec_is_target(path);
    json_object *o = json_object_new_object();
    LC_CHECK(o, out, rc, LOCUS_ENOMEM, "sched", "scheduler file: no memory");
    auth_to_hex(sf->key, AUTH_KEY_LEN, keyhex);
    json_object_object_add(o, "format",
                           json_object_new_string("locus-scheduler-1"));
    char job[sizeof(sf->job)], hostport[sizeof(sf->net_hostport)];
    if (sf->job[0]) {
        snprintf(job, sizeof(job), "%s", sf->job);
    } else if (!schedfile_job_from_env(job, sizeof(job))) {
        const char *u = strchr(sf->job_id, '-');
        snprintf(job, sizeof(job), "local-%s", u ? u + 1 : sf->job_id);
    }
    if (lc_xport_hostport(sf->net_addr, hostport, sizeof(hostport)) != 0)
        hostport[0] = '\0';
    json_object_object_add(o, "job_id", json_object_new_string(sf->job_id));
    json_object_object_add(o, "job", json_object_new_string(job));
    json_object_object_add(o, "key", json_object_new_string(keyhex));
    json_object_object_add(o, "provider", json_object_new_string(sf->provider));
    json_object_object_add(o, "net_host", json_object_new_string(hostport));
    json_object_object_add(o, "net", json_object_new_string(sf->net_addr));
    json_object_object_add(o, "shm", json_object_new_string(sf->shm_addr));
    json_object_object_add(o, "host", json_object_new_string(sf->host));
    json_object_object_add(o, "pid", json_object_new_int(sf->pid));
    json_object_object_add(o, "started", json_object_new_int64(sf->started));
    if (sf->dashboard[0])
        json_object_object_add(o, "dashboard",
                               json_object_new_string(sf->dashboard));
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);

    if (pmix) { /* no file: the launcher keeps the record */
        LC_CHECK_RC(pmixrec_publish(path, text), out, rc);
        goto done;
    }
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    LC_CHECK(n > 0 && (size_t)n < sizeof(tmp), out, rc, LOCUS_EINVAL, "sched",
             "scheduler file path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    LC_CHECK(fd >= 0, out, rc, LOCUS_EIO, "sched", "cannot create %s: %s", tmp,
             strerror(errno));
    size_t len = strlen(text);
    LC_CHECK(write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
                 fsync(fd) == 0,
             out, rc, LOCUS_EIO, "sched", "cannot write %s: %s", tmp,
             strerror(errno));
    close(fd);
    fd = -1;
    LC_CHECK(rename(tmp, path) == 0, out, rc, LOCUS_EIO, "sched",
             "cannot rename %s to %s: %s", tmp, path, strerror(errno));
done:
    lc_log(LC_LOG_INFO, "sched",
           "job %s: scheduler at %s (pid %d on %s); "
           "scheduler file %s",
           job, hostport[0] ? hostport : sf->net_addr, sf->pid, sf->host, path);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (o)
        json_object_put(o);
    return rc;
}

static int get_str(json_object *o, const char *name, char *buf, size_t len,
                   const char *path)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return lc_seterr(LOCUS_EPROTO, "sched",
                         "scheduler file %s: field '%s' missing or not a "
                         "string",
                         path, name);
    const char *s = json_object_get_string(v);
    if (strlen(s) >= len)
        return lc_seterr(LOCUS_EPROTO, "sched",
                         "scheduler file %s: field '%s' too long", path, name);
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

static int read_at(const char *path, int wait_ms, schedfile *sf)
{
    int rc = 0;
    json_object *o = NULL;
    struct stat st;
    char fmt[32], keyhex[2 * AUTH_KEY_LEN + 8], *text = NULL;
    memset(sf, 0, sizeof(*sf));
    LC_CHECK(path && *path, out, rc, LOCUS_EINVAL, "client",
             "no scheduler file given (pass a path or set "
             "$LOCUS_SCHEDULER_FILE)");
    if (pmixrec_is_target(path)) {
        LC_CHECK_RC(pmixrec_lookup(path, wait_ms, &text), out, rc);
        o = json_tokener_parse(text);
        LC_CHECK(o && json_object_is_type(o, json_type_object), out, rc,
                 LOCUS_EPROTO, "client",
                 "scheduler record %s is not valid JSON", path);
        goto parse;
    }
    if (stat(path, &st) != 0) {
        rc = lc_seterr(errno == ENOENT ? LOCUS_ENOENT : LOCUS_EIO, "client",
                       "scheduler file %s: %s (is the scheduler running?)",
                       path, strerror(errno));
        goto out;
    }
    LC_CHECK((st.st_mode & 077) == 0, out, rc, LOCUS_EAUTH, "client",
             "scheduler file %s is readable by other users (mode %03o): its "
             "key cannot be trusted; chmod 600 it",
             path, (unsigned)(st.st_mode & 0777));
    o = json_object_from_file(path);
    LC_CHECK(o && json_object_is_type(o, json_type_object), out, rc,
             LOCUS_EPROTO, "client", "scheduler file %s is not valid JSON",
             path);
parse:
    LC_CHECK_RC(get_str(o, "format", fmt, sizeof(fmt), path), out, rc);
    LC_CHECK(!strcmp(fmt, "locus-scheduler-1"), out, rc, LOCUS_EPROTO, "client",
             "scheduler file %s has format '%s'", path, fmt);
    LC_CHECK_RC(get_str(o, "job_id", sf->job_id, sizeof(sf->job_id), path), out,
                rc);
    LC_CHECK_RC(get_str(o, "key", keyhex, sizeof(keyhex), path), out, rc);
    LC_CHECK(auth_from_hex(keyhex, sf->key, AUTH_KEY_LEN) == 0, out, rc,
             LOCUS_EPROTO, "client", "scheduler file %s: malformed key", path);
    LC_CHECK_RC(
        get_str(o, "provider", sf->provider, sizeof(sf->provider), path), out,
        rc);
    LC_CHECK_RC(get_str(o, "net", sf->net_addr, sizeof(sf->net_addr), path),
                out, rc);
    LC_CHECK_RC(get_str(o, "shm", sf->shm_addr, sizeof(sf->shm_addr), path),
                out, rc);
    LC_CHECK_RC(get_str(o, "host", sf->host, sizeof(sf->host), path), out, rc);
    json_object *v;
    /* readable extras: absent in files of older schedulers */
    if (json_object_object_get_ex(o, "job", &v))
        LC_CHECK_RC(get_str(o, "job", sf->job, sizeof(sf->job), path), out, rc);
    if (json_object_object_get_ex(o, "net_host", &v))
        LC_CHECK_RC(get_str(o, "net_host", sf->net_hostport,
                            sizeof(sf->net_hostport), path),
                    out, rc);
    if (json_object_object_get_ex(o, "pid", &v))
        sf->pid = json_object_get_int(v);
    if (json_object_object_get_ex(o, "started", &v))
        sf->started = json_object_get_int64(v);
    if (json_object_object_get_ex(o, "dashboard", &v) &&
        json_object_is_type(v, json_type_string))
        snprintf(sf->dashboard, sizeof(sf->dashboard), "%s",
                 json_object_get_string(v));
out:
    if (o)
        json_object_put(o);
    free(text);
    return rc;
}

int schedfile_read(const char *path, schedfile *sf)
{
    return read_at(path, SCHEDFILE_PMIX_WAIT_MS, sf);
}

int schedfile_read_wait(const char *path, int wait_ms, schedfile *sf)
{
    return read_at(path, wait_ms, sf);
}

int schedfile_is_pmix(const char *path)
{
    return pmixrec_is_target(path);
}

void schedfile_remove(const char *path)
{
    if (pmixrec_is_target(path))
        pmixrec_withdraw(path);
    else if (path && *path)
        unlink(path);
}

int schedfile_job_from_env(char *buf, size_t len)
{
    /* SLURM_JOB_ID before the PMIx namespace: under srun each step has its
       own namespace, and the scheduler and the workers may be two steps */
    static const char *const vars[] = {"SLURM_JOB_ID", "PMIX_NAMESPACE",
                                       "OMPI_MCA_ess_base_jobid",
                                       "OMPI_MCA_orte_ess_jobid"};
    const char *v = getenv("LOCUS_JOB_ID");
    buf[0] = '\0';
    if (v) {
        snprintf(buf, len, "%s", v);
        return buf[0] != '\0';
    }
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        v = getenv(vars[i]);
        if (v && *v) {
            snprintf(buf, len, "%s", v);
            return 1;
        }
    }
    return 0;
}

int schedfile_check(const schedfile *sf, const char *path,
                    const char *expected_job)
{
    if (expected_job && *expected_job && sf->job[0] &&
        strcmp(expected_job, sf->job) != 0)
        return lc_seterr(LOCUS_EAUTH, "schedfile",
                         "scheduler file %s belongs to job %s, this process "
                         "to job %s: it is left from another job (remove it) "
                         "or the wrong file; give this job's scheduler file, "
                         "or set LOCUS_JOB_ID=%s to use it anyway",
                         path, sf->job, expected_job, sf->job);
    if (sf->pid > 0 && !strcmp(sf->host, lc_hostname()) &&
        kill(sf->pid, 0) != 0 && errno == ESRCH)
        return lc_seterr(LOCUS_ECLOSED, "schedfile",
                         "scheduler file %s is stale: its scheduler (pid %d "
                         "on this host, job %s) is gone; "
                         "start a scheduler, or remove the file",
                         path, sf->pid, sf->job[0] ? sf->job : sf->job_id);
    return 0;
}
