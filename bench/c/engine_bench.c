/*
 * engine_bench: the C peer of the "engine" suite (bench/Engine/EngineBench.cs).
 *
 * It runs the same workloads as the C# side, over RocksDB's C API, linked against the very
 * librocksdb.so the C# engine loads (the RocksDB NuGet package's, 11.12: bench/run.sh links it from
 * kv-bench's build output; the API is declared in rocksdb_c_api.h), with the options
 * node/Storage/Native/NativeOptions.cs builds from `new EngineOptions()`:
 * the five column families of DESIGN section 3 with their per-CF write buffer, bloom filter and
 * compression, a shared 128 MiB LRU block cache with index and filter blocks in it, statistics
 * on, 1 MiB bytes_per_sync. Change both files together, or the ratio means nothing: the suite
 * compares the OPTIONS files RocksDB writes for the two stores and stops when they differ.
 * atomic_flush alone is taken from the command line (the C# side passes what its own store has),
 * because the engine's choice there is still moving.
 *
 * Keys are 16 bytes ("kvbench:" then the big-endian index), values 100 bytes (the big-endian
 * index, then a fixed filler), and every key order comes from the same integer formulas as the
 * C# side (see put_index and get_index).
 *
 * Usage: engine_bench DIR [--keys N] [--get-ops N] [--batches N] [--batch-size N]
 *                        [--scan-passes N] [--atomic-flush 0|1] [--runs N | --serve]
 *   --runs N   set up, run every workload once to warm up, then N times, and print results.
 *   --fsync-probe  only measure the disk under DIR: 300 appends of one batch's WAL record (2,200 B)
 *              each followed by fdatasync, and print p50/p90/p99 latency. Sync batches cannot beat it.
 *   --serve    set up, print "ready", then run one workload per line read from stdin
 *              (put, get, batch-sync, scan-forward, scan-reverse, quit) and print its result.
 * Each result is one line:
 *   result workload=NAME ops=N seconds=S ops_per_s=X cpu_ops_per_s=C p50_us=Y
 * where cpu_ops_per_s counts only the CPU time of the thread that issues the operations (so time
 * spent descheduled on a loaded machine drops out), and p50_us is the median latency of one
 * operation (only measured for batch-sync, else -1).
 * Everything it creates lives under DIR, which the caller removes.
 */
#define _POSIX_C_SOURCE 200809L
#include "rocksdb_c_api.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define KEY_BYTES 16
#define VALUE_BYTES 100
#define CF_COUNT 5

/* Column families, in EngineOptions.DefaultFor's terms (node/Storage/EngineOptions.cs). */
static const char *const cf_names[CF_COUNT] = {"default", "lock", "write", "raft", "meta"};
static const size_t cf_write_buffer[CF_COUNT] = {64u << 20, 32u << 20, 64u << 20, 64u << 20, 4u << 20};
static const double cf_bloom_bits[CF_COUNT] = {10, 10, 10, 0, 10};
static const int cf_compression[CF_COUNT] = {
    rocksdb_lz4_compression, rocksdb_no_compression, rocksdb_lz4_compression,
    rocksdb_no_compression, rocksdb_no_compression};

struct config {
    const char *dir;
    uint64_t keys;        /* a power of two, so the index formulas below are permutations */
    uint64_t get_ops;
    uint64_t batches;
    uint64_t batch_size;
    uint64_t scan_passes;
    int runs;
    int serve;
    int atomic_flush;
    int fsync_probe;
};

/* One open database with its option objects, destroyed in the order RocksDB requires. */
struct store {
    rocksdb_t *db;
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_options_t *db_options;
    rocksdb_options_t *cf_options[CF_COUNT];
    rocksdb_cache_t *cache;
};

static rocksdb_writeoptions_t *write_buffered;
static rocksdb_writeoptions_t *write_sync;
static rocksdb_readoptions_t *read_default;
static rocksdb_flushoptions_t *flush_wait;
static unsigned char key_buf[KEY_BYTES];
static unsigned char value_buf[VALUE_BYTES];
static unsigned char get_buf[VALUE_BYTES];
static unsigned put_dirs; /* fresh directories made for put runs */

static void die_on(char *err, const char *what)
{
    if (err != NULL) {
        fprintf(stderr, "engine_bench: %s failed: %s\n", what, err);
        exit(1);
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: RocksDB's background threads and other processes are not in it. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void store_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

/* The i-th key written by a put run: a permutation of [0, keys) (an odd multiplier mod 2^k). */
static uint64_t put_index(uint64_t i, uint64_t mask) { return (i * UINT64_C(0x9E3779B97F4A7C15)) & mask; }

/* The i-th key read by a get run: splitmix64 of i, so random keys with repeats, all existing. */
static uint64_t get_index(uint64_t i, uint64_t mask)
{
    uint64_t z = i + UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return (z ^ (z >> 31)) & mask;
}

static void set_key(uint64_t index) { store_be64(key_buf + 8, index); }
static void set_value(uint64_t index) { store_be64(value_buf, index); }

static struct store open_store(const char *path, int atomic_flush)
{
    struct store s;
    memset(&s, 0, sizeof s);
    s.cache = rocksdb_cache_create_lru(128u << 20);
    s.db_options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s.db_options, 1);
    rocksdb_options_set_create_missing_column_families(s.db_options, 1);
    rocksdb_options_set_paranoid_checks(s.db_options, 1);
    rocksdb_options_set_max_background_jobs(s.db_options, 2);
    rocksdb_options_set_bytes_per_sync(s.db_options, 1u << 20);
    rocksdb_options_set_keep_log_file_num(s.db_options, 5);
    rocksdb_options_set_max_log_file_size(s.db_options, 16u << 20);
    rocksdb_options_set_atomic_flush(s.db_options, (unsigned char)atomic_flush);
    rocksdb_options_enable_statistics(s.db_options);
    for (int i = 0; i < CF_COUNT; i++) {
        rocksdb_options_t *o = rocksdb_options_create();
        rocksdb_options_set_write_buffer_size(o, cf_write_buffer[i]);
        rocksdb_options_set_compression(o, cf_compression[i]);
        rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
        rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_block_cache(t, s.cache);
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
        if (cf_bloom_bits[i] > 0)
            rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(cf_bloom_bits[i]));
        rocksdb_options_set_block_based_table_factory(o, t);
        rocksdb_block_based_options_destroy(t);
        s.cf_options[i] = o;
    }

    char *err = NULL;
    s.db = rocksdb_open_column_families(s.db_options, path, CF_COUNT, (const char *const *)cf_names,
                                        (const rocksdb_options_t *const *)s.cf_options, s.cf, &err);
    die_on(err, "open");
    return s;
}

static void close_store(struct store *s)
{
    for (int i = 0; i < CF_COUNT; i++)
        rocksdb_column_family_handle_destroy(s->cf[i]);
    rocksdb_close(s->db);
    for (int i = 0; i < CF_COUNT; i++)
        rocksdb_options_destroy(s->cf_options[i]);
    rocksdb_options_destroy(s->db_options);
    rocksdb_cache_destroy(s->cache);
}

static void remove_tree(const char *path)
{
    /* RocksDB's own helper deletes the store's files and then the directory itself. */
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_destroy_db(o, path, &err);
    die_on(err, "destroy");
    rocksdb_options_destroy(o);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *workload, uint64_t ops, double seconds, double cpu_seconds, double p50_us)
{
    printf("result workload=%s ops=%llu seconds=%.6f ops_per_s=%.1f cpu_ops_per_s=%.1f p50_us=%.1f\n", workload,
           (unsigned long long)ops, seconds, (double)ops / seconds, (double)ops / cpu_seconds, p50_us);
    fflush(stdout);
}

/* ---- workloads; each mirrors the method of the same name in EngineBench.cs ---------------- */

/* Buffered puts (no sync) of every key, in put_index order, into a fresh store. */
static void run_put(const struct config *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/put-%u", c->dir, put_dirs++);
    struct store s = open_store(path, c->atomic_flush);
    uint64_t mask = c->keys - 1;
    char *err = NULL;
    double start = now_seconds(), cpu_start = thread_cpu_seconds();
    for (uint64_t i = 0; i < c->keys; i++) {
        uint64_t k = put_index(i, mask);
        set_key(k);
        set_value(k);
        rocksdb_put_cf(s.db, write_buffered, s.cf[0], (const char *)key_buf, KEY_BYTES,
                       (const char *)value_buf, VALUE_BYTES, &err);
        die_on(err, "put");
    }
    double seconds = now_seconds() - start, cpu_seconds = thread_cpu_seconds() - cpu_start;
    close_store(&s);
    remove_tree(path);
    report("put", c->keys, seconds, cpu_seconds, -1);
}

/* Pinned gets of random existing keys, each value copied into a buffer. */
static void run_get(const struct config *c, struct store *s)
{
    uint64_t mask = c->keys - 1;
    uint64_t found = 0;
    char *err = NULL;
    double start = now_seconds(), cpu_start = thread_cpu_seconds();
    for (uint64_t i = 0; i < c->get_ops; i++) {
        set_key(get_index(i, mask));
        rocksdb_pinnableslice_t *slice = rocksdb_get_pinned_cf(s->db, read_default, s->cf[0], (const char *)key_buf, KEY_BYTES, &err);
        die_on(err, "get");
        if (slice != NULL) {
            size_t length;
            const char *v = rocksdb_pinnableslice_value(slice, &length);
            memcpy(get_buf, v, length < sizeof get_buf ? length : sizeof get_buf);
            rocksdb_pinnableslice_destroy(slice);
            found++;
        }
    }
    double seconds = now_seconds() - start, cpu_seconds = thread_cpu_seconds() - cpu_start;
    if (found != c->get_ops) {
        fprintf(stderr, "engine_bench: get found %llu of %llu keys\n", (unsigned long long)found, (unsigned long long)c->get_ops);
        exit(1);
    }
    report("get", c->get_ops, seconds, cpu_seconds, -1);
}

/* Batches of batch_size puts written with sync=true; ops are batches, p50 is one batch's latency. */
static void run_batch_sync(const struct config *c, struct store *s)
{
    static double *latency;
    static uint64_t latency_count;
    if (latency_count < c->batches) {
        free(latency);
        latency = malloc(c->batches * sizeof *latency);
        latency_count = c->batches;
    }
    uint64_t mask = c->keys - 1;
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
    char *err = NULL;
    double start = now_seconds(), cpu_start = thread_cpu_seconds();
    for (uint64_t b = 0; b < c->batches; b++) {
        double t0 = now_seconds();
        rocksdb_writebatch_clear(batch);
        for (uint64_t j = 0; j < c->batch_size; j++) {
            uint64_t k = put_index(b * c->batch_size + j, mask);
            set_key(k);
            set_value(k);
            rocksdb_writebatch_put_cf(batch, s->cf[0], (const char *)key_buf, KEY_BYTES, (const char *)value_buf, VALUE_BYTES);
        }
        rocksdb_write(s->db, write_sync, batch, &err);
        die_on(err, "write batch");
        latency[b] = (now_seconds() - t0) * 1e6;
    }
    double seconds = now_seconds() - start, cpu_seconds = thread_cpu_seconds() - cpu_start;
    rocksdb_writebatch_destroy(batch);
    qsort(latency, c->batches, sizeof *latency, compare_double);
    report("batch-sync", c->batches, seconds, cpu_seconds, latency[(c->batches + 1) / 2 - 1]);
}

/* scan_passes passes over every entry, forward or backward, touching each key and value. */
static void run_scan(const struct config *c, struct store *s, int forward, const char *name)
{
    uint64_t entries = 0, touched = 0;
    double start = now_seconds(), cpu_start = thread_cpu_seconds();
    for (uint64_t pass = 0; pass < c->scan_passes; pass++) {
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, read_default, s->cf[0]);
        if (forward)
            rocksdb_iter_seek_to_first(it);
        else
            rocksdb_iter_seek_to_last(it);
        while (rocksdb_iter_valid(it)) {
            size_t kl, vl;
            const char *k = rocksdb_iter_key(it, &kl);
            const char *v = rocksdb_iter_value(it, &vl);
            touched += (unsigned char)k[kl - 1] + (unsigned char)v[vl - 1] + kl + vl;
            entries++;
            if (forward)
                rocksdb_iter_next(it);
            else
                rocksdb_iter_prev(it);
        }
        char *err = NULL;
        rocksdb_iter_get_error(it, &err);
        die_on(err, "iterate");
        rocksdb_iter_destroy(it);
    }
    double seconds = now_seconds() - start, cpu_seconds = thread_cpu_seconds() - cpu_start;
    if (entries != c->keys * c->scan_passes || touched == 0) {
        fprintf(stderr, "engine_bench: scan saw %llu entries, expected %llu\n", (unsigned long long)entries,
                (unsigned long long)(c->keys * c->scan_passes));
        exit(1);
    }
    report(name, entries, seconds, cpu_seconds, -1);
}

/* Loads every key into a store for reads, then flushes and compacts it into one sorted level. */
static void load(const struct config *c, struct store *s)
{
    uint64_t mask = c->keys - 1;
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
    char *err = NULL;
    for (uint64_t i = 0; i < c->keys; i++) {
        uint64_t k = put_index(i, mask);
        set_key(k);
        set_value(k);
        rocksdb_writebatch_put_cf(batch, s->cf[0], (const char *)key_buf, KEY_BYTES, (const char *)value_buf, VALUE_BYTES);
        if (rocksdb_writebatch_count(batch) == 1000 || i + 1 == c->keys) {
            rocksdb_write(s->db, write_buffered, batch, &err);
            die_on(err, "load");
            rocksdb_writebatch_clear(batch);
        }
    }
    rocksdb_writebatch_destroy(batch);
    for (int i = 0; i < CF_COUNT; i++) {
        rocksdb_flush_cf(s->db, flush_wait, s->cf[i], &err);
        die_on(err, "flush");
    }
    rocksdb_compact_range_cf(s->db, s->cf[0], NULL, 0, NULL, 0);
}

/* The floor under batch-sync: how long this disk takes to make one small append durable. */
static int fsync_probe(const char *dir)
{
    enum { rounds = 300 };
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) {
        perror("engine_bench: fsync probe");
        return 1;
    }
    static char record[2200]; /* about one 16-put batch in the WAL */
    static double latency[rounds];
    for (int i = 0; i < rounds; i++) {
        double t0 = now_seconds();
        if (write(fd, record, sizeof record) != (ssize_t)sizeof record || fdatasync(fd) != 0) {
            perror("engine_bench: fsync probe");
            return 1;
        }
        latency[i] = (now_seconds() - t0) * 1e6;
    }
    close(fd);
    unlink(path);
    qsort(latency, rounds, sizeof latency[0], compare_double);
    printf("fsync-probe bytes=%zu rounds=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f\n", sizeof record, rounds,
           latency[rounds / 2 - 1], latency[rounds * 9 / 10 - 1], latency[rounds * 99 / 100 - 1]);
    return 0;
}

static int run_one(const struct config *c, const char *workload, struct store *reads, struct store *syncs)
{
    if (strcmp(workload, "put") == 0)
        run_put(c);
    else if (strcmp(workload, "get") == 0)
        run_get(c, reads);
    else if (strcmp(workload, "batch-sync") == 0)
        run_batch_sync(c, syncs);
    else if (strcmp(workload, "scan-forward") == 0)
        run_scan(c, reads, 1, workload);
    else if (strcmp(workload, "scan-forward-raw") == 0) /* the C# side's analysis variant; the same scan here */
        run_scan(c, reads, 1, workload);
    else if (strcmp(workload, "scan-reverse") == 0)
        run_scan(c, reads, 0, workload);
    else
        return 0;
    return 1;
}

static uint64_t parse_count(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) {
        fprintf(stderr, "engine_bench: %s needs a positive integer, not '%s'\n", flag, text);
        exit(2);
    }
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    struct config c = {NULL, 1u << 18, 1u << 18, 300, 16, 8, 5, 0, 1, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--serve") == 0)
            c.serve = 1;
        else if (strcmp(a, "--fsync-probe") == 0)
            c.fsync_probe = 1;
        else if (i + 1 < argc && strcmp(a, "--keys") == 0)
            c.keys = parse_count(a, argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--get-ops") == 0)
            c.get_ops = parse_count(a, argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--batches") == 0)
            c.batches = parse_count(a, argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--batch-size") == 0)
            c.batch_size = parse_count(a, argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--scan-passes") == 0)
            c.scan_passes = parse_count(a, argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--atomic-flush") == 0 && (strcmp(argv[i + 1], "0") == 0 || strcmp(argv[i + 1], "1") == 0))
            c.atomic_flush = argv[++i][0] == '1';
        else if (i + 1 < argc && strcmp(a, "--runs") == 0)
            c.runs = (int)parse_count(a, argv[++i]);
        else if (a[0] != '-' && c.dir == NULL)
            c.dir = a;
        else {
            fprintf(stderr, "usage: engine_bench DIR [--keys N] [--get-ops N] [--batches N] [--batch-size N] [--scan-passes N] [--atomic-flush 0|1] [--runs N | --serve | --fsync-probe]\n");
            return 2;
        }
    }
    if (c.dir == NULL || (c.keys & (c.keys - 1)) != 0) {
        fprintf(stderr, "engine_bench: give a directory, and --keys as a power of two\n");
        return 2;
    }
    if (mkdir(c.dir, 0755) != 0 && errno != EEXIST) {
        perror("engine_bench: mkdir");
        return 1;
    }

    if (c.fsync_probe)
        return fsync_probe(c.dir);

    write_buffered = rocksdb_writeoptions_create();
    write_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(write_sync, 1);
    read_default = rocksdb_readoptions_create();
    flush_wait = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(flush_wait, 1);
    memcpy(key_buf, "kvbench:", 8);
    for (int i = 8; i < VALUE_BYTES; i++)
        value_buf[i] = (unsigned char)('a' + i % 26);

    char path[4096];
    snprintf(path, sizeof path, "%s/reads", c.dir);
    struct store reads = open_store(path, c.atomic_flush);
    snprintf(path, sizeof path, "%s/syncs", c.dir);
    struct store syncs = open_store(path, c.atomic_flush);
    load(&c, &reads);

    static const char *const all[] = {"put", "get", "batch-sync", "scan-forward", "scan-reverse"};
    if (c.serve) {
        printf("ready\n");
        fflush(stdout);
        char line[256];
        while (fgets(line, sizeof line, stdin) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strcmp(line, "quit") == 0)
                break;
            if (!run_one(&c, line, &reads, &syncs)) {
                printf("error unknown workload '%s'\n", line);
                fflush(stdout);
            }
        }
    } else {
        for (int run = 0; run <= c.runs; run++) { /* run 0 is the warm-up */
            printf("# run %d%s\n", run, run == 0 ? " (warm-up)" : "");
            for (size_t w = 0; w < sizeof all / sizeof all[0]; w++)
                run_one(&c, all[w], &reads, &syncs);
        }
    }

    close_store(&syncs);
    close_store(&reads);
    rocksdb_writeoptions_destroy(write_buffered);
    rocksdb_writeoptions_destroy(write_sync);
    rocksdb_readoptions_destroy(read_default);
    rocksdb_flushoptions_destroy(flush_wait);
    return 0;
}
