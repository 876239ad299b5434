-- wrk script: POST the survey results query for the survey and token in the
-- environment (set by census.sh).
local survey_id = os.getenv("BENCH_SURVEY")
local token = os.getenv("BENCH_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"query":"query($s: ID!) { survey(id: $s) { results { invited responded responseRate bySector { label rate } byRegion { label rate } byStage { label rate } questions { answered mean choices { label count percentage } } } } }","variables":{"s":"' .. survey_id .. '"}}'

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("bad response " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
