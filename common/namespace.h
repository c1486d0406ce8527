/*
 * namespace.h - give every internal function that libshmslab links a
 * shmslab_ prefix, so that a program linking the static library cannot
 * clash with them (the shared library hides them with its version script
 * anyway).  config.h includes this file, so every object of the project
 * sees the same names; the source keeps the short ones.
 * tests/test_symbols.sh fails when a new extern is missing here.
 */
#ifndef SHMSLAB_NAMESPACE_H
#define SHMSLAB_NAMESPACE_H

/* common/frame.c */
#define frame_decode_reply	shmslab_frame_decode_reply
#define frame_decode_request	shmslab_frame_decode_request
#define frame_encode_reply	shmslab_frame_encode_reply
#define frame_encode_request	shmslab_frame_encode_request
#define frame_header_parse	shmslab_frame_header_parse
#define frame_header_put	shmslab_frame_header_put
#define frame_recv_reply	shmslab_frame_recv_reply
/* common/region.c */
#define region_layout		shmslab_region_layout
#define region_super_check	shmslab_region_super_check
/* common/slab_geom.c, common/slabops.c */
#define slab_cas		shmslab_slab_cas
#define slab_format		shmslab_slab_format
#define slab_geometry		shmslab_slab_geometry
#define slab_give_back		shmslab_slab_give_back
#define slab_head		shmslab_slab_head
#define slab_is			shmslab_slab_is
#define slab_link_ok		shmslab_slab_link_ok
#define slab_lock		shmslab_slab_lock
#define slab_lock_init		shmslab_slab_lock_init
#define slab_move		shmslab_slab_move
#define slab_name_ok		shmslab_slab_name_ok
#define slab_node_add		shmslab_slab_node_add
#define slab_node_add_tail	shmslab_slab_node_add_tail
#define slab_node_del		shmslab_slab_node_del
#define slab_node_rebuild	shmslab_slab_node_rebuild
#define slab_read		shmslab_slab_read
#define slab_return_list	shmslab_slab_return_list
#define slab_slot_recover	shmslab_slab_slot_recover
#define slab_trylock		shmslab_slab_trylock
#define slab_timedlock		shmslab_slab_timedlock
#define slab_unlock		shmslab_slab_unlock
#define slab_view_init		shmslab_slab_view_init
/* common/sock.c */
#define sock_addr		shmslab_sock_addr
#define sock_peer_cred		shmslab_sock_peer_cred
#define sock_read_all		shmslab_sock_read_all
#define sock_recv_with_fd	shmslab_sock_recv_with_fd
#define sock_send_with_fd	shmslab_sock_send_with_fd
#define sock_write_all		shmslab_sock_write_all
/* common/util.c */
#define parse_cpu_list		shmslab_parse_cpu_list
#define parse_size		shmslab_parse_size
#define parse_uint		shmslab_parse_uint
#define possible_cpus		shmslab_possible_cpus
#define proc_start_time		shmslab_proc_start_time
/* libclient/cache.c */
#define cache_lookup		shmslab_cache_lookup
#define handle_new		shmslab_handle_new
#define refill_rpc		shmslab_refill_rpc
#define slab_cache_object	shmslab_slab_cache_object
#define slab_cache_ref		shmslab_slab_cache_ref
#define slab_pool_fini		shmslab_slab_pool_fini
#define slab_pool_init		shmslab_slab_pool_init
/* libclient/debug.c */
#define debug_alloc		shmslab_debug_alloc
#define debug_free		shmslab_debug_free
#define hard_bad_link		shmslab_hard_bad_link
#define slab_bug		shmslab_slab_bug
/* libclient/slub.c */
#define drain_all		shmslab_drain_all
#define rseq_off		shmslab_rseq_off
#define free_memo		slab_inline_memo	/* exported: shmslab.h */
#define page_memo		shmslab_page_memo
#define page_memo_make		shmslab_page_memo_make
#define page_memo_pages		shmslab_page_memo_pages
#define cpu_partial_pop		shmslab_cpu_partial_pop
#define cpu_partial_push		shmslab_cpu_partial_push
#define free_remote		shmslab_free_remote
#define node_lock		shmslab_node_lock
#define node_trylock		shmslab_node_trylock
#define on_cpu		shmslab_on_cpu
#define rec_clear		shmslab_rec_clear
#define rec_set		shmslab_rec_set
#define slot_lock		shmslab_slot_lock
#define slot_trylock		shmslab_slot_trylock
#define node_alloc_nowait		shmslab_node_alloc_nowait
#define unfreeze_partials_try		shmslab_unfreeze_partials_try
#define sort_keys		shmslab_sort_keys
#define unfreeze_partials		shmslab_unfreeze_partials
#define slab_to_full		shmslab_slab_to_full
/* libclient/sheaf.c */
#define sheaf_alloc		shmslab_sheaf_alloc
#define sheaf_free		shmslab_sheaf_free
#define sheaf_drain		shmslab_sheaf_drain
#define sheaf_drain_barns		shmslab_sheaf_drain_barns
/* libclient/owner.c */
#define owner_alloc		shmslab_owner_alloc
#define owner_free		shmslab_owner_free
/* libclient/rpc.c */
#define rpc_attach		shmslab_rpc_attach
#define rpc_backoff		shmslab_rpc_backoff
#define rpc_call		shmslab_rpc_call
#define rpc_fini		shmslab_rpc_fini
#define rpc_hello		shmslab_rpc_hello
#define rpc_init		shmslab_rpc_init
#define rpc_pid			shmslab_rpc_pid

#endif /* SHMSLAB_NAMESPACE_H */
