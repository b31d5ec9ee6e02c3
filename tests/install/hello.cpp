// hello.cpp — a C++ program built against the installed client library (see
// test_install.sh): Health, then Run `echo hello from C++` on the runnerd at
// argv[1], with the library's handles owned by std::unique_ptr.
#include <cstdio>
#include <memory>
#include <string>

#include <runner_client.h>

namespace {

struct client_closer {
	void operator()(runner_client *c) const { runner_client_close(c); }
};
struct message_freer {
	void operator()(ProtobufCMessage *m) const { protobuf_c_message_free_unpacked(m, nullptr); }
};

int
fail(const char *what, const runner_status &st)
{
	std::fprintf(stderr, "hello.cpp: %s: %s: %s\n", what, runner_status_code_name(st.code),
		     st.message);
	return 1;
}

} // namespace

int
main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: hello ADDRESS\n");
		return 2;
	}
	runner_status st = {};
	runner_client *raw = nullptr;
	if (runner_client_open(&raw, argv[1], nullptr, &st) < 0)
		return fail("runner_client_open", st);
	std::unique_ptr<runner_client, client_closer> c(raw);

	Runner__V1__HealthRequest hreq = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *health = nullptr;
	if (runner_health(c.get(), &hreq, &health, 5000, &st) < 0)
		return fail("runner_health", st);
	std::unique_ptr<ProtobufCMessage, message_freer> health_owner(&health->base);
	if (std::string(health->status) != "SERVING") {
		std::fprintf(stderr, "hello.cpp: runnerd is %s\n", health->status);
		return 1;
	}

	std::string text = "hello from C++";
	char echo[] = "echo";
	char *args[] = { echo, &text[0] };
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	spec.argv = args;
	spec.n_argv = 2;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	req.command = &spec;
	Runner__V1__RunResponse *resp = nullptr;
	if (runner_run(c.get(), &req, &resp, 30000, &st) < 0)
		return fail("runner_run", st);
	std::unique_ptr<ProtobufCMessage, message_freer> resp_owner(&resp->base);

	const ProtobufCBinaryData &out = resp->result->stdout;
	std::string got(reinterpret_cast<const char *>(out.data), out.len);
	if (resp->result->exit_code != 0 || got != text + "\n") {
		std::fprintf(stderr, "hello.cpp: unexpected output '%s'\n", got.c_str());
		return 1;
	}
	std::printf("C++ %s (runnerd %s): %s", runner_client_version(), health->version, got.c_str());
	return 0;
}
