-- wrk script: POST matchSuggestions for the request and token in the
-- environment (set by match.sh).
local request_id = os.getenv("BENCH_REQUEST")
local token = os.getenv("BENCH_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"query":"query($r: ID!) { matchSuggestions(requestId: $r, first: 10) { rank score summary provider { id name } } }","variables":{"r":"' .. request_id .. '"}}'

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("bad response " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
