-- wrk script for graphql.sh: POST the JSON body in BENCH_BODY, with
-- `Authorization: Bearer $BENCH_TOKEN` when BENCH_TOKEN is set and not empty.
-- No response() callback: handing every body to Lua would cost wrk CPU that
-- the servers need on two cores; graphql.sh checks each answer with curl
-- before measuring, and afterwards that wrk saw no error status, no socket
-- error, and as many bytes per answer as the checked one.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.body = os.getenv("BENCH_BODY")
