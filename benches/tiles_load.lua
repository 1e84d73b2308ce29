-- wrk script of benches/tiles_load.sh: cycle through the tiles listed in
-- $TILES_FILE (z/x/y per line) as $TILE_PREFIX .. z/x/y .. $TILE_SUFFIX,
-- each thread from its own starting point; print one RESULT line at the end.
local paths = {}
local i = 1
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local prefix = os.getenv("TILE_PREFIX") or "/"
  local suffix = os.getenv("TILE_SUFFIX") or ""
  for line in io.lines(os.getenv("TILES_FILE")) do
    paths[#paths + 1] = prefix .. line .. suffix
  end
  -- Threads start at different tiles (wrk runs init once per thread).
  i = ((id or 0) * 7919) % #paths + 1
end

function request()
  local path = paths[i]
  i = i % #paths + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   max %7.1f ms   errors %d " ..
    "(connect %d, read %d, write %d, timeout %d, non-2xx %d)   %d requests, %.1f MB/s\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors, e.connect, e.read, e.write, e.timeout, e.status,
    summary.requests, summary.bytes / seconds / 1e6))
end
