-- wrk script of benchmarks/bench_scale.py: GET /agents/{id} for an agent id drawn at
-- random, per request, from a file of ids (one a line).
--   wrk -t2 -c32 -d20s --latency -s benchmarks/bench_scale.lua http://HOST:PORT -- IDS_FILE

local threads = 0

function setup(thread)
  -- Runs in wrk's main state: give each thread its own number, hence its own seed.
  threads = threads + 1
  thread:set("number", threads)
end

local ids = {}

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s bench_scale.lua URL -- IDS_FILE")
  end
  for line in io.lines(path) do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
  if #ids == 0 then
    error("no agent ids in " .. path)
  end
  math.randomseed(os.time() * 1000 + (number or 0))
end

function request()
  return wrk.format("GET", "/agents/" .. ids[math.random(#ids)])
end
