/*
 * The part of RocksDB's C API (rocksdb/c.h) that engine_bench.c calls, declared here because the
 * RocksDB NuGet package, whose librocksdb.so the peer links so that it runs the very library the
 * C# engine runs, ships no headers, and the project installs no RocksDB from apt (issue 12).
 * The declarations are copied from rocksdb/c.h; that API is stable (the same prototypes in 7.8 and
 * 11.12, and node/Storage/Native/NativeMethods.cs declares the same functions for C#). Add a
 * function here when the peer starts calling it, with the prototype from c.h.
 */
#ifndef KV_BENCH_ROCKSDB_C_API_H
#define KV_BENCH_ROCKSDB_C_API_H

#include <stddef.h>
#include <stdint.h>

/* Opaque handles. */
typedef struct rocksdb_block_based_table_options_t rocksdb_block_based_table_options_t;
typedef struct rocksdb_cache_t rocksdb_cache_t;
typedef struct rocksdb_column_family_handle_t rocksdb_column_family_handle_t;
typedef struct rocksdb_filterpolicy_t rocksdb_filterpolicy_t;
typedef struct rocksdb_flushoptions_t rocksdb_flushoptions_t;
typedef struct rocksdb_iterator_t rocksdb_iterator_t;
typedef struct rocksdb_options_t rocksdb_options_t;
typedef struct rocksdb_pinnableslice_t rocksdb_pinnableslice_t;
typedef struct rocksdb_readoptions_t rocksdb_readoptions_t;
typedef struct rocksdb_t rocksdb_t;
typedef struct rocksdb_writebatch_t rocksdb_writebatch_t;
typedef struct rocksdb_writeoptions_t rocksdb_writeoptions_t;

/* Compression types, numbered as in c.h's enum (the values are on disk in OPTIONS files). */
enum { rocksdb_no_compression = 0, rocksdb_lz4_compression = 4 };

extern rocksdb_block_based_table_options_t* rocksdb_block_based_options_create(void);
extern void rocksdb_block_based_options_destroy(rocksdb_block_based_table_options_t* options);
extern void rocksdb_block_based_options_set_block_cache(rocksdb_block_based_table_options_t* options, rocksdb_cache_t* block_cache);
extern void rocksdb_block_based_options_set_cache_index_and_filter_blocks(rocksdb_block_based_table_options_t*, unsigned char);
extern void rocksdb_block_based_options_set_filter_policy(rocksdb_block_based_table_options_t* options, rocksdb_filterpolicy_t* filter_policy);
extern rocksdb_cache_t* rocksdb_cache_create_lru(size_t capacity);
extern void rocksdb_cache_destroy(rocksdb_cache_t* cache);
extern void rocksdb_close(rocksdb_t* db);
extern void rocksdb_column_family_handle_destroy(rocksdb_column_family_handle_t*);
extern void rocksdb_compact_range_cf(rocksdb_t* db, rocksdb_column_family_handle_t* column_family, const char* start_key, size_t start_key_len, const char* limit_key, size_t limit_key_len);
extern rocksdb_iterator_t* rocksdb_create_iterator_cf(rocksdb_t* db, const rocksdb_readoptions_t* options, rocksdb_column_family_handle_t* column_family);
extern void rocksdb_destroy_db(const rocksdb_options_t* options, const char* name, char** errptr);
extern rocksdb_filterpolicy_t* rocksdb_filterpolicy_create_bloom_full(double bits_per_key);
extern void rocksdb_flush_cf(rocksdb_t* db, const rocksdb_flushoptions_t* options, rocksdb_column_family_handle_t* column_family, char** errptr);
extern rocksdb_flushoptions_t* rocksdb_flushoptions_create(void);
extern void rocksdb_flushoptions_destroy(rocksdb_flushoptions_t*);
extern void rocksdb_flushoptions_set_wait(rocksdb_flushoptions_t*, unsigned char);
extern rocksdb_pinnableslice_t* rocksdb_get_pinned_cf(rocksdb_t* db, const rocksdb_readoptions_t* options, rocksdb_column_family_handle_t* column_family, const char* key, size_t keylen, char** errptr);
extern void rocksdb_iter_destroy(rocksdb_iterator_t*);
extern void rocksdb_iter_get_error(const rocksdb_iterator_t*, char** errptr);
extern const char* rocksdb_iter_key(const rocksdb_iterator_t*, size_t* klen);
extern void rocksdb_iter_next(rocksdb_iterator_t*);
extern void rocksdb_iter_prev(rocksdb_iterator_t*);
extern void rocksdb_iter_seek_to_first(rocksdb_iterator_t*);
extern void rocksdb_iter_seek_to_last(rocksdb_iterator_t*);
extern unsigned char rocksdb_iter_valid(const rocksdb_iterator_t*);
extern const char* rocksdb_iter_value(const rocksdb_iterator_t*, size_t* vlen);
extern rocksdb_t* rocksdb_open_column_families(const rocksdb_options_t* options, const char* name, int num_column_families, const char* const* column_family_names, const rocksdb_options_t* const* column_family_options, rocksdb_column_family_handle_t** column_family_handles, char** errptr);
extern rocksdb_options_t* rocksdb_options_create(void);
extern void rocksdb_options_destroy(rocksdb_options_t*);
extern void rocksdb_options_enable_statistics(rocksdb_options_t*);
extern void rocksdb_options_set_atomic_flush(rocksdb_options_t* opt, unsigned char);
extern void rocksdb_options_set_block_based_table_factory(rocksdb_options_t* opt, rocksdb_block_based_table_options_t* table_options);
extern void rocksdb_options_set_bytes_per_sync(rocksdb_options_t*, uint64_t);
extern void rocksdb_options_set_compression(rocksdb_options_t*, int);
extern void rocksdb_options_set_create_if_missing(rocksdb_options_t*, unsigned char);
extern void rocksdb_options_set_create_missing_column_families(rocksdb_options_t*, unsigned char);
extern void rocksdb_options_set_keep_log_file_num(rocksdb_options_t*, size_t);
extern void rocksdb_options_set_level_compaction_dynamic_level_bytes(rocksdb_options_t*, unsigned char);
extern void rocksdb_options_set_max_background_jobs(rocksdb_options_t*, int);
extern void rocksdb_options_set_max_log_file_size(rocksdb_options_t*, size_t);
extern void rocksdb_options_set_paranoid_checks(rocksdb_options_t*, unsigned char);
extern void rocksdb_options_set_write_buffer_size(rocksdb_options_t*, size_t);
extern void rocksdb_pinnableslice_destroy(rocksdb_pinnableslice_t* v);
extern const char* rocksdb_pinnableslice_value(const rocksdb_pinnableslice_t* t, size_t* vlen);
extern void rocksdb_put_cf(rocksdb_t* db, const rocksdb_writeoptions_t* options, rocksdb_column_family_handle_t* column_family, const char* key, size_t keylen, const char* val, size_t vallen, char** errptr);
extern rocksdb_readoptions_t* rocksdb_readoptions_create(void);
extern void rocksdb_readoptions_destroy(rocksdb_readoptions_t*);
extern void rocksdb_write(rocksdb_t* db, const rocksdb_writeoptions_t* options, rocksdb_writebatch_t* batch, char** errptr);
extern void rocksdb_writebatch_clear(rocksdb_writebatch_t*);
extern int rocksdb_writebatch_count(rocksdb_writebatch_t*);
extern rocksdb_writebatch_t* rocksdb_writebatch_create(void);
extern void rocksdb_writebatch_destroy(rocksdb_writebatch_t*);
extern void rocksdb_writebatch_put_cf(rocksdb_writebatch_t*, rocksdb_column_family_handle_t* column_family, const char* key, size_t klen, const char* val, size_t vlen);
extern rocksdb_writeoptions_t* rocksdb_writeoptions_create(void);
extern void rocksdb_writeoptions_destroy(rocksdb_writeoptions_t*);
extern void rocksdb_writeoptions_set_sync(rocksdb_writeoptions_t*, unsigned char);

#endif /* KV_BENCH_ROCKSDB_C_API_H */
