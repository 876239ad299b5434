-- wrk script: POST the request body in BENCH_BODY with the staff token in
-- BENCH_TOKEN (both set by census.sh, which checks the body answers first).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = os.getenv("BENCH_BODY")

local bad = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write("bad response " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
    end
  end
end
