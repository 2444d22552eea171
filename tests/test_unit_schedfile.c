/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler file (runtime/proto/schedfile.c): the job it carries, where
 * that job comes from, the readable host:port, and the checks that refuse
 * a file of another job or of a scheduler that is gone, at once.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "locus.h"
#include "proto/schedfile.h"

static char dir[64];

static void setup(void)
{
    const char *vars[] = {"LOCUS_JOB_ID", "SLURM_JOB_ID", "PMIX_NAMESPACE",
                          "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    snprintf(dir, sizeof(dir), "/tmp/locus-sf-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(unit_schedfile, .init = setup, .fini = teardown);

static void fill(schedfile *sf, int pid)
{
    struct sockaddr_in s4;
    memset(sf, 0, sizeof(*sf));
    snprintf(sf->job_id, sizeof(sf->job_id), "1700000000-00112233aabbccdd");
    snprintf(sf->provider, sizeof(sf->provider), "tcp;ofi_rxm");
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(5555);
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    char *p = sf->net_addr + sprintf(sf->net_addr, "tcp;ofi_rxm://");
    for (size_t i = 0; i < sizeof(s4); i++)
        p += sprintf(p, "%02x", ((unsigned char *)&s4)[i]);
    snprintf(sf->host, sizeof(sf->host), "%s", lc_hostname());
    sf->pid = pid;
}

static void roundtrip(const schedfile *in, schedfile *out)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/s.json", dir);
    cr_assert_eq(schedfile_write(path, in), 0, "%s", locus_last_error());
    cr_assert_eq(schedfile_read(path, out), 0, "%s", locus_last_error());
}

Test(unit_schedfile, local_job_is_random_and_host_port_readable)
{
    schedfile sf, back;
    fill(&sf, (int)getpid());
    roundtrip(&sf, &back);
    cr_assert_str_eq(back.job, "local-00112233aabbccdd");
    cr_assert_str_eq(back.net_hostport, "127.0.0.1:5555");
    cr_assert_str_eq(back.net_addr, sf.net_addr);
    cr_assert_eq(back.pid, getpid());
}

Test(unit_schedfile, job_comes_from_the_launcher)
{
    schedfile sf, back;
    char job[128];
    fill(&sf, (int)getpid());
    cr_assert_eq(schedfile_job_from_env(job, sizeof(job)), 0);
    setenv("PMIX_NAMESPACE", "prterun-vm-1234@1", 1);
    cr_assert_eq(schedfile_job_from_env(job, sizeof(job)), 1);
    cr_assert_str_eq(job, "prterun-vm-1234@1");
    setenv("SLURM_JOB_ID", "4242", 1); /* before the per-step namespace */
    roundtrip(&sf, &back);
    cr_assert_str_eq(back.job, "4242");
    setenv("LOCUS_JOB_ID", "mine", 1);
    roundtrip(&sf, &back);
    cr_assert_str_eq(back.job, "mine");
    setenv("LOCUS_JOB_ID", "", 1); /* set and empty: no job, no check */
    cr_assert_eq(schedfile_job_from_env(job, sizeof(job)), 0);
    cr_assert_str_eq(job, "");
}

Test(unit_schedfile, another_job_is_refused_naming_both)
{
    schedfile sf, back;
    fill(&sf, (int)getpid());
    snprintf(sf.job, sizeof(sf.job), "111");
    roundtrip(&sf, &back);
    cr_assert_eq(schedfile_check(&back, "f.json", "111"), 0);
    cr_assert_eq(schedfile_check(&back, "f.json", NULL), 0);
    cr_assert_eq(schedfile_check(&back, "f.json", ""), 0);
    cr_assert_eq(schedfile_check(&back, "f.json", "222"), LOCUS_EAUTH);
    const char *m = locus_last_error();
    cr_assert(strstr(m, "111") && strstr(m, "222") && strstr(m, "f.json"),
              "message: %s", m);
}

Test(unit_schedfile, a_dead_scheduler_is_stale_at_once)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    schedfile sf, back;
    fill(&sf, (int)pid);
    roundtrip(&sf, &back);
    uint64_t t0 = lc_now_ns();
    cr_assert_eq(schedfile_check(&back, "f.json", NULL), LOCUS_ECLOSED);
    cr_assert_lt(lc_now_ns() - t0, 100000000ull);
    cr_assert(strstr(locus_last_error(), "stale"), "%s", locus_last_error());
    /* the same pid on another host says nothing about that host */
    snprintf(back.host, sizeof(back.host), "other-host-%s", lc_hostname());
    cr_assert_eq(schedfile_check(&back, "f.json", NULL), 0);
}

Test(unit_schedfile, files_without_the_new_fields_still_read)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/old.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f,
            "{\"format\":\"locus-scheduler-1\",\"job_id\":\"1-ab\","
            "\"key\":\"%064d\",\"provider\":\"tcp\",\"net\":\"x://00\","
            "\"shm\":\"\",\"host\":\"h\",\"pid\":1}\n",
            0);
    fclose(f);
    chmod(path, 0600);
    schedfile sf;
    cr_assert_eq(schedfile_read(path, &sf), 0, "%s", locus_last_error());
    cr_assert_str_eq(sf.job, "");
    cr_assert_eq(schedfile_check(&sf, path, "any"), 0);
}
