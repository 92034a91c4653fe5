#pragma once
// The p2p-agent subcommands; each returns the process exit code or throws cli_exit.

namespace p2p::cli {

int run_node(int argc, char** argv);
int run_status(int argc, char** argv);
int run_peers(int argc, char** argv);
int run_send(int argc, char** argv);
int run_leave(int argc, char** argv);
int run_forget(int argc, char** argv);
int run_put(int argc, char** argv);
int run_search(int argc, char** argv);
int run_get(int argc, char** argv);
int run_delete(int argc, char** argv);
int run_process(int argc, char** argv);
int run_embed(int argc, char** argv);
int run_ingest(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_collection(int argc, char** argv);
int run_snapshot(int argc, char** argv);
int run_restore(int argc, char** argv);
int run_sample(int argc, char** argv);

} // namespace p2p::cli
