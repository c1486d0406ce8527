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
/* common/region.c */
#define region_layout		shmslab_region_layout
#define region_super_check	shmslab_region_super_check
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
/* libclient/rpc.c */
#define rpc_attach		shmslab_rpc_attach
#define rpc_call		shmslab_rpc_call
#define rpc_fini		shmslab_rpc_fini
#define rpc_hello		shmslab_rpc_hello
#define rpc_init		shmslab_rpc_init

#endif /* SHMSLAB_NAMESPACE_H */
