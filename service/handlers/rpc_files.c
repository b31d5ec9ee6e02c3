/* The file RPCs: ReadFile, WriteFile, ListDir, StatFile, MakeDir, RemoveFile,
 * RenameFile and WatchDir; the files module (files/files.h) does the work and
 * answers. */
#include "files/files.h"
#include "handlers/handlers.h"
#include "session/streams.h"

#define FILES_HANDLER(name, fn)                        \
	void name(struct call *c)                      \
	{                                              \
		const struct handler_env *env = c->app; \
		fn(env->files, c);                     \
	}

FILES_HANDLER(rpc_read_file, files_read_file)
FILES_HANDLER(rpc_write_file, files_write_file)
FILES_HANDLER(rpc_list_dir, files_list_dir)
FILES_HANDLER(rpc_stat_file, files_stat_file)
FILES_HANDLER(rpc_make_dir, files_make_dir)
FILES_HANDLER(rpc_remove_file, files_remove_file)
FILES_HANDLER(rpc_rename_file, files_rename_file)

void
rpc_watch_dir(struct call *c)
{
	const struct handler_env *env = c->app;
	char address[700];

	files_watch_dir(env->files, c, streams_address_for(env->streams, c->pipe, address, sizeof(address)));
}
