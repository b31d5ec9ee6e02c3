/* The handler table: which function serves which runner.v1 method. rpc.c
 * binds each row by name to protobuf-c's service descriptor, so a row for
 * a method the .proto lacks fails at start-up. */
#include "handlers/handlers.h"

const struct rpc_handler handlers_table[] = {
	{ "Run", rpc_run },
	{ "Health", rpc_health },
	{ "StartPipes", rpc_start_pipes },
	{ "WriteStdin", rpc_write_stdin },
	{ "CloseStdin", rpc_close_stdin },
	{ "ReadStream", rpc_read_stream },
	{ "Wait", rpc_wait },
	{ "Signal", rpc_signal },
	{ "List", rpc_list },
	{ "ReadOutput", rpc_read_output },
	{ "Remove", rpc_remove },
	{ "Resize", rpc_resize },
	/* files */
	{ "ReadFile", rpc_read_file },
	{ "WriteFile", rpc_write_file },
	{ "ListDir", rpc_list_dir },
	{ "StatFile", rpc_stat_file },
	{ "MakeDir", rpc_make_dir },
	{ "RemoveFile", rpc_remove_file },
	{ "RenameFile", rpc_rename_file },
	{ "WatchDir", rpc_watch_dir },
};

const size_t handlers_count = sizeof(handlers_table) / sizeof(handlers_table[0]);
